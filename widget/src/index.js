// Entry point: one <script> tag puts the clinic's chat widget on a page.
//
//   <script src="https://clinic.example/clinic-chat.js" defer
//           data-server-url="https://assistant.clinic.example"
//           data-clinic-name="Jade Path East Asian Medicine"
//           data-primary-color="#1f6f5c"
//           data-greeting="Hi! Ask me anything about microneedling."></script>
//
// or window.ClinicChatConfig = { serverUrl, clinicName, primaryColor, greeting, ... } set
// before the script. window.ClinicChat then offers open(), close() and startOver().

import { readConfig } from "./config.js";
import { ChatWidget } from "./widget.js";

(function main() {
  if (window.ClinicChat && window.ClinicChat.version) return; // included twice
  const script = document.currentScript;

  function start() {
    const config = readConfig(script, window.ClinicChatConfig, window.location);
    const widget = new ChatWidget(config, document);
    widget.mount();
    window.ClinicChat = {
      version: __WIDGET_VERSION__,
      open: () => widget.open(),
      close: () => widget.close(),
      startOver: () => widget.startOver(),
    };
  }

  window.ClinicChat = { version: __WIDGET_VERSION__ };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
