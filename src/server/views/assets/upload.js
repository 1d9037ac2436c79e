/* global document, window, XMLHttpRequest, FormData */
// Progressive enhancement for the upload form: with JavaScript the upload shows a progress bar and
// stays on the page; without it the form posts normally and the server redirects back.
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('upload');
  if (!form) return;
  const bar = document.getElementById('upload-progress');
  const status = document.getElementById('upload-status');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open('POST', form.action);
    request.setRequestHeader('Accept', 'application/json');
    request.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    request.addEventListener('load', () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { /* not JSON: show the status code */ }
      if (request.status >= 200 && request.status < 300) {
        status.textContent = body.message || 'Uploaded.';
        window.location.reload();
      } else {
        bar.hidden = true;
        status.textContent = 'Upload failed: ' + (body.error || 'HTTP ' + request.status);
        status.className = 'error';
      }
    });
    request.addEventListener('error', () => {
      bar.hidden = true;
      status.textContent = 'Upload failed: the connection was lost.';
      status.className = 'error';
    });
    bar.hidden = false;
    bar.value = 0;
    status.textContent = '';
    request.send(new FormData(form));
  });
});
