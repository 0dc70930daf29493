// What the pages share on screen: one section visible at a time, a busy
// message, a problem message, sizes for people.

export const $ = (id) => document.getElementById(id);

/** Show and hide among a page's `sections` (element ids). */
export function screens(sections) {
  const show = (...visible) => {
    for (const id of sections) $(id).hidden = !visible.includes(id);
  };
  return {
    show,
    busy(text) {
      $('busy-text').textContent = text;
      show('busy');
    },
    problem(text, ...alsoVisible) {
      $('problem-text').textContent = text;
      show('problem', ...alsoVisible);
    },
  };
}

export function messageOf(e) {
  return e && e.message ? e.message : String(e);
}

/** A size in bytes as people read it: 3.0 MB, 512 KB. */
export function formatSize(bytes) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A progress callback that fills `bar` and `text` towards `total` bytes. */
export function progressTo(bar, text, total) {
  bar.value = 0;
  text.textContent = '';
  return (received) => {
    bar.value = total > 0 ? received / total : 1;
    text.textContent = `${formatSize(received)} of ${formatSize(total)}`;
  };
}
