// After a refused form the page opens on its error summary: focus moves there, so a screen
// reader reads what to fix first and the keyboard continues from the links to each field.
// Without JavaScript the summary is still the first thing in the main content.
(function () {
  var summary = document.querySelector("main .alert.error[role='alert']");
  if (!summary) return;
  if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
  summary.focus();
})();
