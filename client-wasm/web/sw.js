// The download stream: a page that decrypts a document hands it here chunk
// by chunk, and this worker answers the page's navigation to
// /l/download/<token> with a streamed response the browser saves. The
// browser writes the file as it arrives, so memory stays flat whatever the
// document's size. The worker never sees a key: it receives plaintext the
// page already verified chunk by chunk, and if the page's final check
// fails it errors the stream, so the browser marks the download failed
// and keeps no file.
'use strict';

const pending = new Map(); // token -> { port, name, type, size }

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const { type, token, name, mimeType, size } = event.data || {};
  if (type !== 'download' || typeof token !== 'string' || !event.ports[0]) return;
  pending.set(token, { port: event.ports[0], name, mimeType, size });
  event.ports[0].postMessage({ registered: true });
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const match = /^\/l\/download\/([0-9a-f]{32})$/.exec(url.pathname);
  if (!match || url.origin !== self.location.origin) return;
  const download = pending.get(match[1]);
  pending.delete(match[1]);
  if (!download) {
    event.respondWith(new Response('This download has ended. Open the link again to save the document.\n', {
      status: 404,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    }));
    return;
  }
  event.respondWith(streamed(download));
});

function streamed({ port, name, mimeType, size }) {
  let controller;
  let waiting = null; // the chunk number to acknowledge once there is room
  const stream = new ReadableStream(
    {
      start(c) {
        controller = c;
      },
      pull() {
        if (waiting !== null) {
          port.postMessage({ ack: waiting });
          waiting = null;
        }
      },
      cancel() {
        port.postMessage({ cancelled: true });
      },
    },
    new CountQueuingStrategy({ highWaterMark: 8 }),
  );
  port.onmessage = ({ data }) => {
    if (data.chunk) {
      controller.enqueue(new Uint8Array(data.chunk));
      if (controller.desiredSize > 0) port.postMessage({ ack: data.seq });
      else waiting = data.seq;
    } else if (data.done) {
      controller.close();
    } else if (data.error) {
      controller.error(new Error(data.error));
    }
  };
  port.postMessage({ started: true });
  const headers = {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name || 'document')}`,
    'x-content-type-options': 'nosniff',
  };
  if (Number.isSafeInteger(size)) headers['content-length'] = String(size);
  return new Response(stream, { headers });
}
