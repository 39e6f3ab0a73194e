// The chat widget: launcher, panel, messages, quick replies, composer.
// Everything lives in a shadow root so the host site's CSS and ours cannot clash, and every
// piece of text is put in the page with textContent / text nodes (see text.js).

import { renderText, safeHttpUrl, makeLink } from "./text.js";
import { theme } from "./color.js";
import { ConversationStore } from "./store.js";
import { Connection, ONLINE, CONNECTING, OFFLINE } from "./connection.js";
import styles from "./styles.css";

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  close: "M6 6l12 12M18 6L6 18",
  send: "M3 11.5L21 3l-8.5 18-2-7.5L3 11.5z",
  restart: "M4 4v6h6M4.5 15a8 8 0 1 0 1.9-8.4L4 10",
};
const TYPING_TIMEOUT_MS = 25000;
const MAX_INPUT = 1000;
const MAX_REPLIES = 10;
const SOURCE_LINE = /^\s*Sources?:\s/;

let counter = 0;
function messageId() {
  counter += 1;
  return `${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

function initials(name) {
  const words = name.split(/\s+/).filter((w) => /^[A-Za-z]/.test(w));
  return (words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?");
}

/** Normalise Rasa's quick_replies / buttons to [{title, payload}]. */
export function normaliseReplies(message) {
  const list = Array.isArray(message.quick_replies) ? message.quick_replies
    : Array.isArray(message.buttons) ? message.buttons : [];
  return list
    .filter((b) => b && typeof b === "object")
    .map((b) => ({
      title: String(b.title == null ? "" : b.title).slice(0, 120),
      payload: String(b.payload == null ? b.title || "" : b.payload).slice(0, MAX_INPUT),
    }))
    .filter((b) => b.title && b.payload)
    .slice(0, MAX_REPLIES);
}

function attachmentLink(message) {
  const attachment = message.attachment;
  if (!attachment || typeof attachment !== "object") return null;
  const payload = attachment.payload || {};
  const url = safeHttpUrl(payload.src || payload.url || "");
  if (!url) return null;
  const label = attachment.type === "image" ? "View image" : "Open attachment";
  return { url, label };
}

export class ChatWidget {
  constructor(config, doc = document) {
    this.config = config;
    this.doc = doc;
    this.theme = theme(config.primaryColor);
    this.store = new ConversationStore(config.storageKey, config.serverUrl, config.historyHours);
    this.typingTimer = null;
    this.pending = null;
    this.connection = new Connection(config, {
      onState: (state) => this.showState(state),
      onBotMessage: (message) => this.receive(message),
      onSession: (id, token) => this.adoptSession(id, token),
      since: () => this.store.cursor,
      onPaused: (paused) => this.setPaused(paused),
    });
    this.build();
    this.renderAll();
    this.showState(OFFLINE);
    window.addEventListener("storage", (event) => this.onStorage(event));
    if (this.store.open) this.open({ focus: false });
    // A conversation under way: connect with the panel closed too, so what the clinic sent
    // meanwhile (a staff reply while the tab was closed) arrives and shows on the launcher.
    else if (this.store.messages.length) this.connection.open(this.store.sessionId, this.store.sessionToken);
  }

  // ---- DOM construction -------------------------------------------------------------

  el(tag, attributes = {}, text) {
    const node = this.doc.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value == null) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  icon(name) {
    const svg = this.doc.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = this.doc.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    svg.classList.add("cc-icon", `cc-icon-${name}`);
    return svg;
  }

  build() {
    const { config, theme: t } = this;
    this.host = this.el("div", { id: "clinic-chat", "data-clinic-chat": "" });
    // CSSOM calls, not style attributes: allowed under a strict Content-Security-Policy.
    const hostStyle = this.host.style;
    hostStyle.setProperty("--cc-primary", t.primary);
    hostStyle.setProperty("--cc-on-primary", t.onPrimary);
    hostStyle.setProperty("--cc-accent", t.accent);
    hostStyle.setProperty("--cc-focus", t.focus);
    const root = this.host.attachShadow({ mode: "open" });
    this.root = root;
    this.applyStyles(root);

    const wrapper = this.el("div", { className: "cc-root" });

    this.launcher = this.el("button", {
      type: "button", className: "cc-launcher", "aria-expanded": "false", "aria-controls": "cc-panel",
      "aria-label": `${config.launcherLabel}: open the ${config.clinicName} chat`,
    });
    this.badge = this.el("span", { className: "cc-badge", hidden: true });
    this.launcher.append(this.icon("chat"), this.el("span", { className: "cc-launcher-label" }, config.launcherLabel),
      this.badge);
    this.unread = 0;
    this.launcher.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));

    this.panel = this.el("section", {
      id: "cc-panel", className: "cc-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "cc-title", "aria-describedby": "cc-subtitle", hidden: true,
    });
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      } else if (event.key === "Tab" && this.fullScreen()) {
        this.keepFocusInside(event);
      }
    });

    const header = this.el("header", { className: "cc-header" });
    const avatar = this.el("div", { className: "cc-avatar", "aria-hidden": "true" }, initials(config.clinicName));
    const heading = this.el("div", { className: "cc-heading" });
    heading.append(
      this.el("h2", { id: "cc-title", className: "cc-title" }, config.clinicName),
      this.statusLine = this.el("p", { id: "cc-subtitle", className: "cc-subtitle" }),
    );
    this.statusDot = this.el("span", { className: "cc-dot", "aria-hidden": "true" });
    this.statusText = this.el("span", {}, "");
    this.statusLine.append(this.statusDot, this.statusText);

    this.restartButton = this.el("button", { type: "button", className: "cc-header-button cc-restart",
      title: "Start over: a new conversation (clears this one from this device)" });
    this.restartButton.append(this.icon("restart"), this.el("span", {}, "Start over"));
    this.restartButton.addEventListener("click", () => this.startOver());
    this.closeButton = this.el("button", { type: "button", className: "cc-header-button cc-close",
      "aria-label": "Close chat", title: "Close chat" });
    this.closeButton.append(this.icon("close"));
    this.closeButton.addEventListener("click", () => this.close());
    header.append(avatar, heading, this.restartButton, this.closeButton);

    this.banner = this.el("div", { className: "cc-banner", role: "alert", hidden: true });
    this.bannerText = this.el("p", {}, "");
    this.retryButton = this.el("button", { type: "button", className: "cc-retry" }, "Try again now");
    this.retryButton.addEventListener("click", () => this.connection.retryNow());
    this.banner.append(this.bannerText, this.retryButton);

    // The log is not itself live: restored history must not be read out again. New
    // assistant messages are announced through this.live instead.
    this.messages = this.el("div", { className: "cc-messages", role: "log", "aria-live": "off",
      "aria-label": "Conversation", tabindex: "0" });
    this.live = this.el("div", { className: "cc-visually-hidden cc-live", "aria-live": "polite",
      "aria-atomic": "false", role: "status" });

    this.form = this.el("form", { className: "cc-composer", novalidate: true });
    const label = this.el("label", { for: "cc-input", className: "cc-visually-hidden" }, "Type your message");
    this.input = this.el("input", { id: "cc-input", className: "cc-input", type: "text",
      autocomplete: "off", placeholder: "Type your message…",
      "aria-describedby": "cc-notice", enterkeyhint: "send" });
    this.sendButton = this.el("button", { type: "submit", className: "cc-send", "aria-label": "Send message",
      title: "Send" });
    this.sendButton.append(this.icon("send"));
    this.form.append(label, this.input, this.sendButton);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendText(this.input.value);
    });
    this.notice = this.el("p", { id: "cc-notice", className: "cc-notice", "aria-live": "polite" });

    this.panel.append(header, this.banner, this.messages, this.live, this.notice, this.form);
    if (config.footerNote) this.panel.append(this.el("p", { className: "cc-footer" }, config.footerNote));

    wrapper.append(this.panel, this.launcher);
    root.append(wrapper);
  }

  applyStyles(root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(styles);
      root.adoptedStyleSheets = [sheet];
    } catch (_) {
      root.append(this.el("style", {}, styles)); // browsers without constructable sheets
    }
  }

  mount() {
    this.doc.body.appendChild(this.host);
    this.scrollToEnd(); // restored history: show its end (no layout before mounting)
  }

  // ---- rendering ---------------------------------------------------------------------

  renderAll() {
    this.messages.replaceChildren();
    this.typing = null;
    this.messages.append(this.renderGreeting());
    for (const message of this.store.messages) this.messages.append(this.renderMessage(message));
    this.scrollToEnd();
  }

  renderGreeting() {
    const node = this.renderBubble("bot", this.config.greeting);
    node.classList.add("cc-greeting");
    if (!this.store.messages.length && this.config.suggestions.length) {
      const replies = this.config.suggestions.map((s) => ({ title: s, payload: s }));
      node.append(this.renderReplies(replies, (reply) => this.chooseSuggestion(reply)));
    }
    return node;
  }

  renderBubble(from, text, staff = null) {
    const node = this.el("div", { className: `cc-msg cc-msg-${from}`, "data-from": from });
    if (staff) {
      // A person writes: said above the message, with their name.
      node.classList.add("cc-msg-staff");
      node.append(this.el("span", { className: "cc-author" }, staff));
    }
    const who = from === "user" ? "You" : staff || this.config.assistantName;
    node.append(this.el("span", { className: "cc-visually-hidden" }, `${who}: `));
    const bubble = this.el("div", { className: "cc-bubble" });
    // The assistant ends answers with a "Source(s): ..." line: shown as a quieter footnote.
    String(text).split("\n").forEach((line, index, lines) => {
      const source = from === "bot" && SOURCE_LINE.test(line);
      if (source) {
        const footnote = this.el("span", { className: "cc-source" });
        footnote.append(renderText(this.doc, line));
        bubble.append(footnote);
      } else {
        bubble.append(renderText(this.doc, line));
        const next = lines[index + 1];
        if (next !== undefined && !(from === "bot" && SOURCE_LINE.test(next))) bubble.append("\n");
      }
    });
    node.append(bubble);
    return node;
  }

  renderMessage(message) {
    const node = this.renderBubble(message.from === "user" ? "user" : "bot", message.text || "",
      message.from === "staff" ? message.staff || "Clinic staff" : null);
    if (message.from === "bot" && this.store.messages.some((m) => m.from === "staff")) {
      // Once a person has written, the assistant's messages say who wrote them too.
      node.insertBefore(this.el("span", { className: "cc-author" }, this.config.assistantName), node.firstChild);
    }
    node.dataset.id = message.id;
    if (!message.text) node.querySelector(".cc-bubble").remove();
    if (message.link) {
      const bubble = this.el("div", { className: "cc-bubble" });
      const href = safeHttpUrl(message.link.url);
      if (href) bubble.append(makeLink(this.doc, href, message.link.label));
      node.append(bubble);
    }
    if (message.replies && message.replies.length) {
      node.append(this.renderReplies(message.replies, (reply, group) => this.chooseReply(message, reply, group),
        message.used, message.chosen));
    }
    return node;
  }

  renderReplies(replies, onChoose, used = false, chosen = -1) {
    const group = this.el("div", { className: "cc-replies", role: "group", "aria-label": "Suggested replies" });
    replies.forEach((reply, index) => {
      const button = this.el("button", { type: "button", className: "cc-reply" }, reply.title);
      if (used) button.disabled = true;
      if (used && index === chosen) button.classList.add("cc-chosen");
      button.addEventListener("click", () => onChoose({ ...reply, index }, group));
      group.append(button);
    });
    return group;
  }

  append(message) {
    this.hideTyping();
    this.messages.append(this.renderMessage(message));
    this.scrollToEnd();
  }

  scrollToEnd() {
    this.messages.scrollTop = this.messages.scrollHeight;
  }

  showTyping() {
    // A person holds the conversation: the assistant will not answer, and no dots
    // promise that it will.
    if (this.store.paused) return;
    if (!this.typing) {
      this.typing = this.el("div", { className: "cc-msg cc-msg-bot cc-typing", "data-typing": "" });
      const bubble = this.el("div", { className: "cc-bubble" });
      bubble.append(this.el("span", { className: "cc-visually-hidden" }, `${this.config.assistantName} is typing`));
      for (let i = 0; i < 3; i += 1) bubble.append(this.el("span", { className: "cc-typing-dot", "aria-hidden": "true" }));
      this.typing.append(bubble);
    }
    this.messages.append(this.typing);
    this.scrollToEnd();
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_TIMEOUT_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    if (this.typing) this.typing.remove();
  }

  announce(text) {
    const line = this.el("p", {}, text);
    this.live.append(line);
    while (this.live.childNodes.length > 3) this.live.firstChild.remove();
  }

  setNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  showState(state) {
    const labels = { [ONLINE]: "Online", [CONNECTING]: "Connecting…", [OFFLINE]: "Offline" };
    this.statusText.textContent = labels[state];
    this.statusDot.dataset.state = state;
    this.panel.dataset.state = state;
    const showBanner = state === OFFLINE && this.connection && this.connection.wanted;
    if (showBanner) {
      this.bannerText.textContent =
        "We can't reach the assistant right now. We'll keep trying to reconnect.";
      this.banner.hidden = false;
    } else {
      this.banner.hidden = true;
    }
    this.sendButton.setAttribute("aria-disabled", state === ONLINE ? "false" : "true");
    if (state === ONLINE) {
      this.setNotice("");
      const pending = this.pending;
      if (pending) this.deliver(pending.payload, pending.display, pending.onSent);
    } else {
      this.hideTyping();
      if (state === OFFLINE && this.pending) {
        this.pending = null;
        this.setNotice("Not sent: the assistant can't be reached right now. "
          + "We'll keep trying to reconnect.");
      }
    }
  }

  // ---- behaviour ---------------------------------------------------------------------

  /** On phones the panel covers the page: it then behaves as a modal dialog. */
  fullScreen() {
    return window.matchMedia("(max-width: 520px)").matches;
  }

  keepFocusInside(event) {
    const focusable = Array.from(this.panel.querySelectorAll(
      "button:not([disabled]), input, a[href], [tabindex='0']")).filter((el) => el.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = this.root.activeElement;
    if (event.shiftKey && active === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  open({ focus = true } = {}) {
    this.panel.hidden = false;
    this.panel.setAttribute("aria-modal", this.fullScreen() ? "true" : "false");
    this.launcher.setAttribute("aria-expanded", "true");
    this.setUnread(0);
    this.root.querySelector(".cc-root").classList.add("cc-is-open");
    this.store.open = true;
    this.connection.open(this.store.sessionId, this.store.sessionToken);
    this.scrollToEnd();
    if (focus) this.input.focus();
  }

  close() {
    if (!this.isOpen) return;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.root.querySelector(".cc-root").classList.remove("cc-is-open");
    this.store.open = false;
    this.launcher.focus();
  }

  /** Send what the visitor typed. */
  sendText(raw) {
    const full = String(raw || "").trim();
    const text = full.slice(0, MAX_INPUT);
    if (!text) return false;
    const sent = this.deliver(text, text, () => {
      if (this.input.value.trim().slice(0, MAX_INPUT) === text) this.input.value = "";
    });
    if (sent !== false && full.length > MAX_INPUT) {
      // Cut, and said so: the rest of a long message is not silently dropped.
      this.setNotice(`Your message was longer than ${MAX_INPUT} characters, so only the first ${MAX_INPUT} were sent.`);
    }
    return sent;
  }

  chooseReply(message, reply, group) {
    if (message.used) return;
    this.deliver(reply.payload, reply.title, () => {
      message.used = true;
      message.chosen = reply.index;
      this.store.update();
      this.markUsed(group, reply.index);
      this.input.focus();
    });
  }

  chooseSuggestion(reply) {
    this.deliver(reply.payload, reply.title, () => this.input.focus());
  }

  markUsed(group, chosen) {
    group.querySelectorAll("button").forEach((button, index) => {
      button.disabled = true;
      if (index === chosen) button.classList.add("cc-chosen");
    });
  }

  /** Send a payload, show `display` as the visitor's message. */
  deliver(payload, display, onSent = null) {
    if (!this.connection.send(payload)) {
      if (this.connection.state === CONNECTING) {
        // Sent by showState as soon as the session is confirmed.
        this.pending = { payload, display, onSent };
        this.setNotice("Connecting… your message will be sent in a moment.");
      } else {
        this.pending = null;
        this.setNotice("Not sent: the assistant can't be reached right now. "
          + "We'll keep trying to reconnect.");
      }
      return false;
    }
    this.pending = null;
    this.setNotice("");
    if (onSent) onSent();
    // Buttons of earlier messages no longer answer the current question.
    for (const message of this.store.messages) {
      if (message.replies && message.replies.length) message.used = true;
    }
    this.messages.querySelectorAll(".cc-reply").forEach((b) => { b.disabled = true; });
    // The greeting's suggestions are only for starting a conversation.
    const suggestions = this.messages.querySelector(".cc-greeting .cc-replies");
    if (suggestions) suggestions.remove();
    const message = this.store.add({ id: messageId(), from: "user", text: display });
    this.append(message);
    this.showTyping();
    return true;
  }

  receive(raw) {
    // Every tab of the conversation gets every message, and a page that joins gets again
    // what it may have missed: the id decides whether it is new. Re-read first, another
    // tab may just have recorded it.
    const id = typeof raw.id === "string" ? raw.id.slice(0, 64) : null;
    this.store.reload();
    if (id && this.store.has(id)) {
      this.renderIfChanged();
      return;
    }
    const text = typeof raw.text === "string" ? raw.text : "";
    const replies = normaliseReplies(raw);
    const link = attachmentLink(raw);
    if (!text && !replies.length && !link) return;
    const staff = typeof raw.staff === "string" ? raw.staff.slice(0, 60) : null;
    const ts = typeof raw.ts === "number" && Number.isFinite(raw.ts) ? raw.ts : null;
    if (staff !== null) {
      // A person has taken over: the assistant's buttons no longer answer anything.
      this.retireButtons();
      this.setPaused(raw.handover !== "left");
    } else {
      this.setPaused(false);
    }
    const message = this.store.add({ id: id || messageId(), ts, from: staff !== null ? "staff" : "bot",
      staff: staff || null, text, replies, link, used: false });
    const firstStaff = staff !== null && this.store.messages.filter((m) => m.from === "staff").length === 1;
    if (firstStaff) this.renderAll();
    else this.renderIfChanged(message);
    const spoken = [text, replies.length ? `Options: ${replies.map((r) => r.title).join(", ")}.` : ""]
      .filter(Boolean).join(" ");
    const who = staff || this.config.assistantName;
    this.announce(`${who}: ${spoken || link.label}`);
    if (!this.isOpen) this.setUnread(this.unread + 1);
  }

  /** Show what the store holds: append the new message, or redraw if this page is behind. */
  renderIfChanged(message = null) {
    const shown = this.messages.querySelectorAll(".cc-msg[data-id]").length;
    if (message && shown === this.store.messages.length - 1) this.append(message);
    else if (shown !== this.store.messages.length) this.renderAll();
    if (message) this.hideTyping();
  }

  /** Disable every suggested reply shown so far (recorded, so a reload keeps them off). */
  retireButtons() {
    for (const message of this.store.messages) {
      if (message.replies && message.replies.length) message.used = true;
    }
    this.store.update();
    this.messages.querySelectorAll(".cc-reply").forEach((b) => { b.disabled = true; });
    const suggestions = this.messages.querySelector(".cc-greeting .cc-replies");
    if (suggestions) suggestions.remove();
  }

  /** A member of staff holds the conversation (true) or the assistant has it again. */
  setPaused(paused) {
    this.store.paused = paused;
    this.panel.dataset.paused = paused ? "true" : "false";
    if (paused) this.hideTyping();
  }

  /** Count of answers that arrived while the panel was closed, shown on the launcher. */
  setUnread(count) {
    this.unread = count;
    this.badge.textContent = count ? String(Math.min(count, 9)) : "";
    this.badge.hidden = !count;
    const base = `${this.config.launcherLabel}: open the ${this.config.clinicName} chat`;
    this.launcher.setAttribute("aria-label", count ? `${base} (${count} new)` : base);
  }

  startOver() {
    this.connection.endSession();
    this.store.reset();
    this.pending = null;
    this.setPaused(false);
    this.setNotice("");
    this.renderAll();
    this.connection.open(this.store.sessionId, this.store.sessionToken);
    this.announce("Started a new conversation.");
    this.input.value = "";
    this.input.focus();
  }

  /** The server confirmed a conversation (a new one if it would not let us rejoin). */
  adoptSession(id, token) {
    if (this.store.adopt(id, token)) {
      this.pending = null;
      this.setPaused(false);
      this.renderAll();
      this.announce("Started a new conversation.");
    }
  }

  onStorage(event) {
    if (!this.store.concerns(event)) return;
    const previous = this.store.sessionId;
    this.store.reload();
    this.renderAll();
    this.panel.dataset.paused = this.store.paused ? "true" : "false";
    if (this.store.sessionId !== previous && this.connection.wanted) this.connection.open(this.store.sessionId, this.store.sessionToken);
  }
}
