// The dashboard works without JavaScript; this only adds "select all" checkboxes.
document.addEventListener("change", function (event) {
  var box = event.target;
  var name = box.getAttribute && box.getAttribute("data-select-all");
  if (!name) { return; }
  var formId = box.getAttribute("form");
  var scope = formId ? document : (box.form || document);
  var selector = 'input[type="checkbox"][name="' + name + '"]' + (formId ? '[form="' + formId + '"]' : "");
  Array.prototype.forEach.call(scope.querySelectorAll(selector), function (other) {
    if (!other.disabled) { other.checked = box.checked; }
  });
});
