// Progressive enhancement only: every page works without this file.
// Buttons marked data-copy="ID" copy the text of element ID; data-print prints the page;
// data-load file inputs fill a textarea.
// A form's error summary takes the focus (the page's autofocus does it in most browsers), and
// its links move the focus to the input they name.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    if (document.activeElement !== summary) summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) return;
        // A fieldset of radio buttons: its first choice.
        var input = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
        if (!input) return;
        event.preventDefault();
        target.scrollIntoView({ block: "center" });
        input.focus();
      });
    });
  }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.value || source.textContent;
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        source.select && source.select();
        document.execCommand("copy");
        done();
      }
    });
  });
  // A file input marked data-load="ID" puts the chosen text file into textarea ID (the form
  // sends the textarea; without this script the text is pasted there).
  document.querySelectorAll("input[type=file][data-load]").forEach(function (input) {
    var wrapper = input.closest("[data-file-field]");
    if (wrapper) wrapper.hidden = false;
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-load"));
      var file = input.files && input.files[0];
      if (!target || !file || !window.FileReader) return;
      var reader = new FileReader();
      reader.onload = function () { target.value = reader.result; };
      reader.readAsText(file);
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
