// The socket.io link to Rasa's socketio channel (events user_uttered / bot_uttered,
// session_request / session_confirm), with automatic reconnection.
//
// A conversation id is not a password: the server gives each conversation a session token
// and lets a connection rejoin a conversation only with it. Without a valid token (a new
// visitor, "Start over") the server confirms a new id and token, which the widget adopts.

import { io } from "socket.io-client";

export const OFFLINE = "offline";
export const CONNECTING = "connecting";
export const ONLINE = "online";

export class Connection {
  /**
   * @param {{serverUrl: string, socketPath: string}} config
   * @param {{onState: (state: string) => void, onBotMessage: (message: object) => void,
   *   since?: () => (number|null), onPaused?: (paused: boolean) => void}} handlers since:
   *   the latest server timestamp this device has seen (the server replays what came after)
   */
  constructor(config, handlers) {
    this.handlers = handlers;
    this.sessionId = null;
    this.sessionToken = null;
    this.state = OFFLINE;
    this.socket = io(config.serverUrl, {
      path: config.socketPath,
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      randomizationFactor: 0.3,
      timeout: 8000,
      // Messages are sent only when online (see send), never queued for a later
      // connection whose session is not confirmed yet.
      transports: ["polling", "websocket"],
    });
    const socket = this.socket;
    socket.on("connect", () => {
      this.setState(CONNECTING);
      // On every (re)connection: join the conversation's room again, saying the latest
      // message this device has, so the server sends again whatever came while no page
      // was connected (a reload, a closed tab, a dropped link, a staff reply overnight).
      const request = { session_id: this.sessionId, session_token: this.sessionToken };
      const since = this.handlers.since ? this.handlers.since() : null;
      if (typeof since === "number" && Number.isFinite(since)) request.since = since;
      socket.emit("session_request", request);
    });
    socket.on("session_confirm", (confirmed) => {
      const id = confirmed && typeof confirmed === "object" ? confirmed.session_id : null;
      const token = confirmed && typeof confirmed === "object" ? confirmed.session_token : null;
      if (typeof id !== "string" || typeof token !== "string") return;
      if (id !== this.sessionId || token !== this.sessionToken) {
        this.sessionId = id;
        this.sessionToken = token;
        if (this.handlers.onSession) this.handlers.onSession(id, token);
      }
      this.setState(ONLINE);
    });
    socket.on("session_state", (state) => {
      if (state && typeof state === "object" && this.handlers.onPaused) {
        this.handlers.onPaused(state.paused === true);
      }
    });
    socket.on("bot_uttered", (message) => {
      if (message && typeof message === "object") this.handlers.onBotMessage(message);
    });
    socket.on("disconnect", (reason) => {
      this.setState(this.wanted ? CONNECTING : OFFLINE);
      // socket.io does not retry by itself after the server closed the connection.
      if (this.wanted && reason === "io server disconnect") socket.connect();
    });
    socket.on("connect_error", () => this.setState(OFFLINE));
    socket.io.on("reconnect_attempt", () => {
      if (this.state !== OFFLINE) this.setState(CONNECTING);
    });
    this.wanted = false;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState(state);
  }

  /** Connect (or switch) to the given conversation (its token, if the server gave one). */
  open(sessionId, sessionToken = null) {
    this.wanted = true;
    if (this.sessionId !== sessionId && this.socket.connected) {
      // A new conversation: leave the old room by reconnecting.
      this.sessionId = sessionId;
      this.sessionToken = sessionToken;
      this.socket.disconnect();
      this.setState(CONNECTING);
      this.socket.connect();
      return;
    }
    this.sessionId = sessionId;
    this.sessionToken = sessionToken;
    if (!this.socket.connected && !this.socket.active) {
      this.setState(CONNECTING);
      this.socket.connect();
    }
  }

  /**
   * "Start over": ask the server to revoke this conversation's token, so that a copy of it
   * (a shared computer) cannot reopen the conversation. Best effort: offline, the token
   * still expires by itself within a day.
   */
  endSession() {
    if (this.socket.connected && this.sessionId && this.sessionToken) {
      this.socket.emit("session_end", { session_id: this.sessionId, session_token: this.sessionToken });
    }
  }

  /** Try now instead of waiting for the next automatic attempt. */
  retryNow() {
    this.wanted = true;
    if (this.socket.connected) return;
    this.socket.disconnect();
    this.setState(CONNECTING);
    this.socket.connect();
  }

  /**
   * Send a message of the visitor (text or a button payload) if the session is live.
   * @returns {boolean} whether it was sent
   */
  send(message) {
    if (this.state !== ONLINE) return false;
    this.socket.emit("user_uttered", { message, session_id: this.sessionId });
    return true;
  }
}
