// The conversation kept on the visitor's device: session id and visible history in
// localStorage (shared by every page and tab of the site), the panel's open state in
// sessionStorage (this tab only). The server sends every bot message with an id and its
// stored timestamp, and replays those after the latest timestamp kept here when a page
// joins: the ids kept here are what stop a message from being shown twice.

const MAX_MESSAGES = 200;

function storage(kind) {
  try {
    const s = window[kind];
    const probe = "__clinic_chat_probe__";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch (_) {
    return null; // storage disabled (private mode, blocked cookies): keep state in memory
  }
}

/** A new random session id (32 hex characters, like Rasa's own). */
export function newSessionId() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ConversationStore {
  /**
   * @param {string} key storage key prefix, one conversation per key and server
   * @param {number} historyHours a conversation idle longer than this starts afresh
   */
  constructor(key, serverUrl, historyHours) {
    this.key = `${key}:v1:${serverUrl}`;
    this.openKey = `${key}:v1:open`;
    this.maxAgeMs = historyHours * 3600 * 1000;
    this.local = storage("localStorage");
    this.session = storage("sessionStorage");
    this.memory = null;
    this.state = this.load();
  }

  load() {
    let state = null;
    try {
      const raw = this.local ? this.local.getItem(this.key) : this.memory;
      state = raw ? JSON.parse(raw) : null;
    } catch (_) {
      state = null;
    }
    const fresh = state && typeof state.sessionId === "string" && /^[0-9a-f]{32}$/.test(state.sessionId)
      && Array.isArray(state.messages) && Date.now() - Number(state.updatedAt || 0) < this.maxAgeMs;
    if (!fresh) {
      state = { sessionId: newSessionId(), updatedAt: Date.now(), messages: [], userMessages: 0 };
    }
    return state;
  }

  save() {
    this.state.updatedAt = Date.now();
    this.state.messages = this.state.messages.slice(-MAX_MESSAGES);
    const raw = JSON.stringify(this.state);
    if (this.local) {
      try {
        this.local.setItem(this.key, raw);
      } catch (_) {
        this.memory = raw; // quota exceeded: this page keeps working
      }
    } else {
      this.memory = raw;
    }
  }

  /** Re-read after another tab changed the conversation. */
  reload() {
    this.state = this.load();
    return this.state;
  }

  /** True if a storage event is about this conversation. */
  concerns(event) {
    return event.key === this.key || event.key === null;
  }

  get sessionId() {
    return this.state.sessionId;
  }

  /** The server's token for this conversation (null until the server confirmed it). */
  get sessionToken() {
    return typeof this.state.sessionToken === "string" ? this.state.sessionToken : null;
  }

  /**
   * Take the conversation the server confirmed. A different id means the server did not
   * let this device rejoin the old one: its history no longer belongs to the conversation.
   * @returns {boolean} whether the visible history was cleared
   */
  adopt(sessionId, sessionToken) {
    const cleared = sessionId !== this.state.sessionId && this.state.messages.length > 0;
    if (sessionId !== this.state.sessionId) {
      this.state.messages = [];
      this.state.userMessages = 0;
    }
    this.state.sessionId = sessionId;
    this.state.sessionToken = sessionToken;
    this.save();
    return cleared;
  }

  get messages() {
    return this.state.messages;
  }

  /** True if a message with this id is already in the conversation. */
  has(id) {
    return Boolean(id) && this.state.messages.some((m) => m.id === id);
  }

  /**
   * The latest server timestamp this device has seen (null: none). Histories kept before
   * messages had timestamps count from their last change.
   */
  get cursor() {
    let latest = null;
    for (const m of this.state.messages) {
      if (typeof m.ts === "number" && (latest === null || m.ts > latest)) latest = m.ts;
    }
    if (latest === null && this.state.messages.some((m) => m.from !== "user")) {
      // The server replays from ten minutes before the cursor (clocks may differ); those
      // messages have no ids here to recognise them by.
      latest = Number(this.state.updatedAt || 0) / 1000 + 600;
    }
    return latest;
  }

  /** Whether a member of staff holds the conversation (the assistant is paused). */
  get paused() {
    return this.state.paused === true;
  }

  set paused(value) {
    if (this.state.paused === Boolean(value)) return;
    this.state.paused = Boolean(value);
    this.save();
  }

  add(message) {
    this.state.messages.push(message);
    if (message.from === "user" && Number.isInteger(this.state.userMessages)) {
      this.state.userMessages += 1;
    }
    this.save();
    return message;
  }

  /** How many messages this device sent in the conversation (null: not counted). */
  get userMessages() {
    return Number.isInteger(this.state.userMessages) ? this.state.userMessages : null;
  }

  update() {
    this.save();
  }

  /** Forget the conversation and start a new session. */
  reset() {
    this.state = { sessionId: newSessionId(), updatedAt: Date.now(), messages: [], userMessages: 0 };
    this.save();
  }

  get open() {
    return this.session ? this.session.getItem(this.openKey) === "1" : false;
  }

  set open(value) {
    if (!this.session) return;
    if (value) this.session.setItem(this.openKey, "1");
    else this.session.removeItem(this.openKey);
  }
}
