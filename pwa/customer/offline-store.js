// The last known coupons, their QR codes, the member card and the profile, kept in IndexedDB so the wallet
// opens without a network (a customer at the till with no signal can still show a code).

const DATABASE = "tessera-customer";
const STORE = "kv";

function request(idbRequest) {
  return new Promise((resolve, reject) => {
    idbRequest.onsuccess = () => resolve(idbRequest.result);
    idbRequest.onerror = () => reject(idbRequest.error);
  });
}

let opened = null;

function database() {
  if (!opened) {
    const opening = indexedDB.open(DATABASE, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
    opened = request(opening);
  }
  return opened;
}

async function transaction(mode, work) {
  const db = await database();
  const tx = db.transaction(STORE, mode);
  const result = work(tx.objectStore(STORE));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  return result;
}

export async function load(key) {
  const db = await database();
  return request(db.transaction(STORE).objectStore(STORE).get(key));
}

/** Replace the coupon list and keep exactly the QR codes of the coupons in it. */
export async function saveCoupons(coupons, qrCodes) {
  const keep = new Set(coupons.map((coupon) => `qr:${coupon.id}`));
  const db = await database();
  const existing = await request(db.transaction(STORE).objectStore(STORE).getAllKeys());
  await transaction("readwrite", (store) => {
    store.put(coupons, "coupons");
    for (const [id, svg] of qrCodes) store.put(svg, `qr:${id}`);
    for (const key of existing) {
      if (String(key).startsWith("qr:") && !keep.has(key)) store.delete(key);
    }
  });
}

export async function saveProfile(profile) {
  await transaction("readwrite", (store) => store.put(profile, "profile"));
}

/** The member card (with its QR code), so it shows without a network. */
export async function saveCard(card) {
  await transaction("readwrite", (store) => store.put(card, "card"));
}

export async function forgetEverything() {
  await transaction("readwrite", (store) => store.clear());
}
