/* Keyboard shortcuts for the agent workspace (progressive enhancement: every page works
   without this file). Keys are ignored while typing in a form field or with Ctrl/Alt/Meta.
     /  search          j / k  next / previous ticket in a list     o / Enter  open it
     x  select it       r  write a reply     n  internal note button     e  edit the ticket
     g a  to the workspace start            ?  show or hide the shortcut list            */
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-list] tr[data-row]"));
  var current = -1;
  var pendingG = false;

  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function select(index) {
    if (!rows.length) { return; }
    if (current >= 0 && rows[current]) { rows[current].classList.remove("is-current"); }
    current = Math.max(0, Math.min(rows.length - 1, index));
    var row = rows[current];
    row.classList.add("is-current");
    var link = row.querySelector("a.ticket-link");
    if (link) { link.focus(); }
  }

  function focusShortcut(key) {
    var el = document.querySelector('[data-shortcut="' + key + '"]');
    if (!el) { return false; }
    el.focus();
    if (el.scrollIntoView) { el.scrollIntoView({ block: "center" }); }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "a") { window.location.href = "/arbeid"; event.preventDefault(); }
      return;
    }
    var handled = true;
    if (key === "j") { select(current + 1); }
    else if (key === "k") { select(current - 1); }
    else if (key === "o" && current >= 0) {
      var link = rows[current].querySelector("a.ticket-link");
      if (link) { window.location.href = link.href; }
    }
    else if (key === "x" && current >= 0) {
      var box = rows[current].querySelector('input[type="checkbox"]');
      if (box) { box.checked = !box.checked; }
    }
    else if (key === "/" || key === "r" || key === "n" || key === "e") { handled = focusShortcut(key); }
    else if (key === "g") { pendingG = true; }
    else if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) { help.open = !help.open; if (help.open) { help.querySelector("summary").focus(); } }
    }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });

  /* Moving the focus with Tab into a row makes it the current row for j/k. */
  rows.forEach(function (row, index) {
    row.addEventListener("focusin", function () {
      if (current >= 0 && rows[current]) { rows[current].classList.remove("is-current"); }
      current = index;
      row.classList.add("is-current");
    });
  });
})();
