// Widget settings from the script tag's data-* attributes, or from window.ClinicChatConfig
// (for sites that cannot add attributes). Attributes win over the object.

import { parseHex, DEFAULT_PRIMARY } from "./color.js";
import { safeHttpUrl } from "./text.js";

const DEFAULTS = {
  serverUrl: "",
  socketPath: "/socket.io/",
  clinicName: "Our clinic",
  assistantName: "",
  primaryColor: DEFAULT_PRIMARY,
  greeting: "Hi! How can I help you today?",
  suggestions: [],
  launcherLabel: "Chat with us",
  footerNote: "",
  // Conversations may hold health details: keep them on the device only for a few hours.
  historyHours: 24 * 7,
  storageKey: "clinic-chat",
};

// data-attribute name (camelCase in dataset) for each setting
const ATTRIBUTES = {
  serverUrl: "serverUrl",
  socketPath: "socketPath",
  clinicName: "clinicName",
  assistantName: "assistantName",
  primaryColor: "primaryColor",
  greeting: "greeting",
  suggestions: "suggestions",
  launcherLabel: "launcherLabel",
  footerNote: "footerNote",
  historyHours: "historyHours",
  storageKey: "storageKey",
};

function asText(value, fallback, maxLength = 500) {
  if (typeof value !== "string") return fallback;
  const trimmed = value.trim();
  return trimmed ? trimmed.slice(0, maxLength) : fallback;
}

/**
 * Read and validate the settings.
 * @param {HTMLScriptElement|null} script the widget's own <script> tag
 * @param {object|undefined} globalConfig window.ClinicChatConfig
 * @param {Location} location the page's location (default server URL)
 */
export function readConfig(script, globalConfig, location) {
  const raw = { ...DEFAULTS, ...(globalConfig && typeof globalConfig === "object" ? globalConfig : {}) };
  const data = (script && script.dataset) || {};
  for (const [key, attribute] of Object.entries(ATTRIBUTES)) {
    if (data[attribute] !== undefined) raw[key] = data[attribute];
  }

  const fallbackServer = `${location.protocol}//${location.hostname}:5005`;
  const serverUrl = safeHttpUrl(asText(raw.serverUrl, fallbackServer)) || fallbackServer;

  let suggestions = raw.suggestions;
  if (typeof suggestions === "string") suggestions = suggestions.split("|");
  if (!Array.isArray(suggestions)) suggestions = [];
  suggestions = suggestions.map((s) => asText(String(s), "", 80)).filter(Boolean).slice(0, 4);

  const socketPath = asText(raw.socketPath, DEFAULTS.socketPath, 100);
  const hours = Number(raw.historyHours);
  const clinicName = asText(raw.clinicName, DEFAULTS.clinicName, 80);

  return {
    serverUrl: serverUrl.replace(/\/+$/, ""),
    socketPath: socketPath.startsWith("/") ? socketPath : `/${socketPath}`,
    clinicName,
    assistantName: asText(raw.assistantName, `${clinicName} assistant`, 80),
    primaryColor: parseHex(raw.primaryColor) ? raw.primaryColor.trim() : DEFAULT_PRIMARY,
    greeting: asText(raw.greeting, DEFAULTS.greeting, 600),
    suggestions,
    launcherLabel: asText(raw.launcherLabel, DEFAULTS.launcherLabel, 40),
    footerNote: asText(raw.footerNote, "", 200),
    historyHours: Number.isFinite(hours) && hours > 0 ? Math.min(hours, 24 * 30) : DEFAULTS.historyHours,
    storageKey: asText(raw.storageKey, DEFAULTS.storageKey, 60).replace(/[^\w-]/g, "") || DEFAULTS.storageKey,
  };
}
