// Tillyard console: small progressive enhancements only; every page works without this file.
// A file chosen for a CSV import is read into the form's text area, so the form posts plain text.
document.querySelectorAll('input[type=file][data-into]').forEach(function (input) {
  input.addEventListener('change', function () {
    var target = document.getElementById(input.getAttribute('data-into'));
    if (!target || !input.files.length) { return; }
    var reader = new FileReader();
    reader.onload = function () { target.value = reader.result; };
    reader.readAsText(input.files[0]);
  });
});
// Live pages (fleet status) reload themselves while nobody is typing in one of their forms.
document.querySelectorAll('[data-refresh]').forEach(function (marker) {
  var seconds = parseInt(marker.getAttribute('data-refresh'), 10);
  if (!(seconds > 0)) { return; }
  setInterval(function () {
    var active = document.activeElement;
    var typing = active && (active.tagName === 'INPUT' || active.tagName === 'SELECT' || active.tagName === 'TEXTAREA') && active.value;
    if (!typing) { window.location.reload(); }
  }, seconds * 1000);
});
