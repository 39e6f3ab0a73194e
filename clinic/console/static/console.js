// Staff console: live transcript while a conversation is open, no double submits.
// Text is always inserted with textContent (patients' words are never HTML).
(function () {
  "use strict";
  // While a form is being posted, the page is about to be replaced by its answer: the live
  // update must not reload it (a reload would cancel the post's own navigation and show
  // the old page, e.g. after "Hand back", whose post itself changes who holds the chat).
  var submitting = false;
  document.addEventListener("submit", function (event) {
    submitting = true;
    var button = event.target.querySelector("button[type=submit]");
    if (button) { setTimeout(function () { button.disabled = true; }, 0); }
  });

  var list = document.getElementById("transcript");
  if (!list) { return; }
  var url = list.getAttribute("data-events-url");
  var lastId = parseInt(list.getAttribute("data-last-id") || "0", 10);
  var holder = list.getAttribute("data-holder") || "";
  var every = parseInt(list.getAttribute("data-poll-ms") || "2000", 10);
  var labels = { patient: "Patient", assistant: "Assistant", note: "Note" };

  // The transcript opens at its latest message, and follows new ones unless staff have
  // scrolled up to read something older.
  function atEnd() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }
  function toEnd() {
    list.scrollTop = list.scrollHeight;
  }
  toEnd();

  function add(line) {
    if (list.querySelector('[data-id="' + line.id + '"]')) { return; }
    var item = document.createElement("li");
    item.className = "line " + line.who + " new";
    item.setAttribute("data-id", String(line.id));
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = line.who === "staff" ? "Staff (" + line.staff + ")" : (labels[line.who] || line.who);
    var time = document.createElement("time");
    time.textContent = line.at;
    var text = document.createElement("p");
    text.textContent = line.text;
    item.appendChild(who);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(time);
    item.appendChild(text);
    list.appendChild(item);
  }

  function poll() {
    fetch(url + "?after=" + lastId, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/login"; throw new Error("logged out"); }
        return response.json();
      })
      .then(function (data) {
        var follow = atEnd();
        (data.lines || []).forEach(add);
        if (follow) { toEnd(); }
        var presence = document.getElementById("presence");
        if (presence && typeof data.presence === "string") {
          presence.textContent = data.presence;
          presence.className = "presence" + (data.online ? " online" : "");
        }
        lastId = data.last_id || lastId;
        if (submitting) { return; }
        if ((data.holder || "") !== holder) { window.location.reload(); return; }
        setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
