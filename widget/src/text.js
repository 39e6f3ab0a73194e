// Turns message text into DOM nodes without ever parsing it as HTML.
// Only text nodes, <a> (http/https targets only) and <strong> are created, always through
// DOM APIs, so markup in a message (from the visitor or the server) shows as plain text.

// [title](url), a bare http(s) URL, or **bold**.
const TOKEN = /\[([^\]\n]{1,300})\]\(([^)\s]{1,2000})\)|(https?:\/\/[^\s<>"'`]{1,2000})|\*\*([^*\n]{1,500})\*\*/gi;
// Punctuation that usually ends a sentence rather than a bare URL.
const TRAILING = /[.,;:!?)\]}'"]+$/;

/**
 * The URL as a string if it is an absolute http(s) URL, otherwise null.
 * @param {string} value
 * @returns {string|null}
 */
export function safeHttpUrl(value) {
  if (typeof value !== "string") return null;
  let url;
  try {
    url = new URL(value.trim());
  } catch (_) {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.href;
}

/**
 * An anchor that opens an http(s) URL in a new tab, without giving that tab access to ours.
 * @param {Document} doc
 * @param {string} href already checked by safeHttpUrl
 * @param {string} label
 */
export function makeLink(doc, href, label) {
  const a = doc.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = label;
  const hint = doc.createElement("span");
  hint.className = "cc-visually-hidden";
  hint.textContent = " (opens in a new tab)";
  a.appendChild(hint);
  return a;
}

/**
 * Message text as a DocumentFragment of text nodes, safe links and bold runs.
 * @param {Document} doc
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderText(doc, text) {
  const fragment = doc.createDocumentFragment();
  const source = String(text == null ? "" : text);
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(source); match; match = TOKEN.exec(source)) {
    let [whole, label, target, bare, bold] = match;
    let end = match.index + whole.length;
    let node = null;
    if (label !== undefined) {
      const href = safeHttpUrl(target);
      if (href) node = makeLink(doc, href, label);
    } else if (bare !== undefined) {
      const trailing = bare.match(TRAILING);
      if (trailing) {
        bare = bare.slice(0, -trailing[0].length);
        end -= trailing[0].length;
      }
      const href = safeHttpUrl(bare);
      if (href) node = makeLink(doc, href, bare);
    } else if (bold !== undefined) {
      node = doc.createElement("strong");
      node.textContent = bold;
    }
    if (!node) continue; // not safe to link: left in the surrounding text as typed
    if (match.index > last) fragment.appendChild(doc.createTextNode(source.slice(last, match.index)));
    fragment.appendChild(node);
    last = end;
    TOKEN.lastIndex = end;
  }
  if (last < source.length) fragment.appendChild(doc.createTextNode(source.slice(last)));
  return fragment;
}
