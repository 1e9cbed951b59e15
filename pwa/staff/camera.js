// The camera and the barcode reader: the browser's BarcodeDetector where it exists, else the
// ZXing WebAssembly ponyfill served from our own origin (vendor/). Reads QR and EAN-13.

const FORMATS = ["qr_code", "ean_13"];
const READ_EVERY_MS = 120;
// A code stays "the same read" while it keeps being seen with gaps shorter than this: holding a
// coupon in front of the camera is one read, however long it stays there.
const SAME_READ_GAP_MS = 2500;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function createDetector() {
  if ("BarcodeDetector" in window) {
    const supported = await window.BarcodeDetector.getSupportedFormats();
    if (FORMATS.every((format) => supported.includes(format))) {
      return new window.BarcodeDetector({ formats: FORMATS });
    }
  }
  await loadScript(new URL("./vendor/barcode-detector.js", import.meta.url).href);
  const api = window.BarcodeDetectionAPI;
  // Never the package's default, which fetches the .wasm from a CDN.
  api.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) =>
        path.endsWith(".wasm") ? new URL(`./vendor/${path}`, import.meta.url).href : prefix + path,
    },
    fireImmediately: false,
  });
  return new api.BarcodeDetector({ formats: FORMATS });
}

/**
 * Remembers when each code was last in view; `isNew` is false while a code is still in view, so
 * a coupon held up (or a QR and an EAN-13 in the same frame) is one read per code.
 */
export class ReadDebouncer {
  constructor(gapMs = SAME_READ_GAP_MS) {
    this.gapMs = gapMs;
    this.lastSeen = new Map();
  }

  isNew(value, now) {
    for (const [seen, at] of this.lastSeen) if (now - at >= this.gapMs) this.lastSeen.delete(seen);
    const inView = this.lastSeen.has(value);
    this.lastSeen.set(value, now);
    return !inView;
  }

  /** Treat `value` as never seen: its next sighting is a read. */
  forget(value) {
    this.lastSeen.delete(value);
  }
}

/**
 * Start the rear camera in `video` and call `onRead(rawValue)` once per new read. `onRead`
 * answers whether it took the read; a read it refused is not remembered, so the code is read
 * again when it is still in view once the scanner is free.
 * @returns {Promise<{ stop: () => void, torch: ((on: boolean) => Promise<void>) | null }>}
 */
export async function startScanner(video, onRead) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  const release = () => {
    for (const each of stream.getTracks()) each.stop();
    if (video.srcObject === stream) video.srcObject = null;
  };
  let detector;
  try {
    video.srcObject = stream;
    await video.play().catch(() => {});
    detector = await createDetector();
  } catch (error) {
    release();
    throw error;
  }
  const debouncer = new ReadDebouncer();
  let running = true;

  async function readFrame() {
    if (!running) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA) {
      try {
        const found = await detector.detect(video);
        const now = performance.now();
        for (const code of found) {
          if (debouncer.isNew(code.rawValue, now) && !onRead(code.rawValue, code.format)) {
            debouncer.forget(code.rawValue);
          }
        }
      } catch (error) {
        console.warn("barcode detection", error);
      }
    }
    setTimeout(readFrame, READ_EVERY_MS);
  }
  readFrame();

  const [track] = stream.getVideoTracks();
  const capabilities = track.getCapabilities ? track.getCapabilities() : {};
  return {
    stop() {
      running = false;
      release();
    },
    torch: capabilities.torch ? (on) => track.applyConstraints({ advanced: [{ torch: on }] }) : null,
  };
}
