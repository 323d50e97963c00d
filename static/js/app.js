/* Small behaviours the pages share (no inline script: the CSP allows only files from this site). */
(function () {
  "use strict";

  // R-UX-2: a refused form scrolls to its first error and puts the cursor in that field.
  function focusFirstError(root) {
    var field = root.querySelector('[aria-invalid="true"]');
    var message = root.querySelector('.field-error, .weui-cell_warn, .app-notice_warn[role="alert"]');
    var target = field || message;
    if (!target) return;
    var box = target.closest(".weui-cell, .app-card, .app-notice") || target;
    box.scrollIntoView({ block: "center" });
    if (field && typeof field.focus === "function") field.focus({ preventScroll: true });
  }

  // The in-page confirmation under 作废 (ui.html void_form): 取消 folds it away again.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-close-details]");
    if (!button) return;
    var details = button.closest("details");
    if (details) {
      details.open = false;
      var summary = details.querySelector("summary");
      if (summary) summary.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { focusFirstError(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.querySelector && event.detail.xhr && event.detail.xhr.status === 422) focusFirstError(target);
  });
})();
