// Charts (Chart.js, vendored, global `Chart`) with the same numbers as a table beside each one,
// so screen-reader users and keyboard users get the figures too.

const PALETTE = ["#1f294b", "#0b6e35", "#b5541c", "#5b3fa6", "#00798c"];
const drawn = new Map();

function chart(canvas, type, labels, series, summary) {
  drawn.get(canvas.id)?.destroy();
  canvas.setAttribute("aria-label", summary);
  const instance = new window.Chart(canvas, {
    type,
    data: {
      labels,
      datasets: series.map((one, index) => ({
        label: one.label,
        data: one.data,
        backgroundColor: PALETTE[index % PALETTE.length],
        borderColor: PALETTE[index % PALETTE.length],
        tension: 0.2,
      })),
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
  drawn.set(canvas.id, instance);
  return instance;
}

export function table(element, heading, labels, series) {
  const head = document.createElement("tr");
  for (const [index, text] of [heading, ...series.map((one) => one.label)].entries()) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = text;
    if (index > 0) cell.className = "num";
    head.append(cell);
  }
  const rows = labels.map((label, index) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = label;
    row.append(name);
    for (const one of series) {
      const cell = document.createElement("td");
      cell.className = "num";
      cell.textContent = String(one.data[index]);
      row.append(cell);
    }
    return row;
  });
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...rows);
  element.replaceChildren(thead, tbody);
}

function summarise(labels, series) {
  return series
    .map((one) => `${one.label}: ${labels.map((label, index) => `${label} ${one.data[index]}`).join(", ")}`)
    .join("; ");
}

/** Draw `series` over `labels` as a chart on `canvas` and as a table in `tableElement`. */
export function figure(canvas, tableElement, { type, heading, labels, series }) {
  chart(canvas, type, labels, series, summarise(labels, series));
  table(tableElement, heading, labels, series);
}
