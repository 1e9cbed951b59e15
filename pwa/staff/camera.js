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
  await loadScript(new URL("vendor/barcode-detector.js", location.href).href);
  const api = window.BarcodeDetectionAPI;
  // Never the package's default, which fetches the .wasm from a CDN.
  api.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) =>
        path.endsWith(".wasm") ? new URL(`vendor/${path}`, location.href).href : prefix + path,
    },
    fireImmediately: false,
  });
  return new api.BarcodeDetector({ formats: FORMATS });
}

/** Remembers the last code seen; `isNew` is false while the same code is still in view. */
export class ReadDebouncer {
  constructor(gapMs = SAME_READ_GAP_MS) {
    this.gapMs = gapMs;
    this.value = null;
    this.seenAt = -Infinity;
  }

  isNew(value, now) {
    const same = value === this.value && now - this.seenAt < this.gapMs;
    this.value = value;
    this.seenAt = now;
    return !same;
  }
}

/**
 * Start the rear camera in `video` and call `onRead(rawValue)` once per new read.
 * @returns {Promise<{ stop: () => void, torch: ((on: boolean) => Promise<void>) | null }>}
 */
export async function startScanner(video, onRead) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  await video.play().catch(() => {});
  const detector = await createDetector();
  const debouncer = new ReadDebouncer();
  let running = true;

  async function readFrame() {
    if (!running) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA) {
      try {
        const found = await detector.detect(video);
        const now = performance.now();
        for (const code of found) {
          if (debouncer.isNew(code.rawValue, now)) onRead(code.rawValue, code.format);
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
      for (const each of stream.getTracks()) each.stop();
      video.srcObject = null;
    },
    torch: capabilities.torch ? (on) => track.applyConstraints({ advanced: [{ torch: on }] }) : null,
  };
}
