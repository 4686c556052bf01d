/* Passkeys (WebAuthn) for the resident portal: no framework, no inline script (CSP).
 *
 * A form marked data-passkey="register" or data-passkey="login" is shown only when the browser
 * supports passkeys. On submit, the script asks the server for options (data-options-url,
 * POST with the CSRF token), calls navigator.credentials.create/get, writes the answer as JSON
 * into the form's hidden "credential" field and submits the form normally: the server checks
 * everything and answers with a page. Without JavaScript the pages explain (in <noscript>)
 * that passkeys need a browser with JavaScript.
 */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBytes(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) { out.response.userHandle = toText(response.userHandle); }
    }
    return out;
  }

  function say(form, text) {
    var box = form.querySelector("[data-passkey-message]");
    if (box) { box.textContent = text; box.hidden = !text; }
  }

  function start(form) {
    var kind = form.getAttribute("data-passkey");
    var button = form.querySelector("button[type=submit]");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-passkey-ready") === "yes") { return; }
      event.preventDefault();
      say(form, "");
      if (button) { button.disabled = true; }
      fetch(form.getAttribute("data-options-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "", "Accept": "application/json" }
      }).then(function (answer) {
        return answer.json().then(function (json) {
          if (!answer.ok) { throw new Error(json.message || "パスキーを使えませんでした。"); }
          return json;
        });
      }).then(function (json) {
        return kind === "register"
          ? navigator.credentials.create({ publicKey: creationOptions(json) })
          : navigator.credentials.get({ publicKey: requestOptions(json) });
      }).then(function (credential) {
        form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(credential));
        form.setAttribute("data-passkey-ready", "yes");
        form.submit();
      }).catch(function (error) {
        if (button) { button.disabled = false; }
        var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
        if (error && error.name === "SecurityError") {
          say(form, "このアドレスではパスキーを使えません。https で始まるアドレス（試験用なら http://localhost）でこのページを開いてください。");
          return;
        }
        if (error && error.name === "InvalidStateError") {
          say(form, "この端末のパスキーは、すでに登録されています。");
          return;
        }
        say(form, cancelled
          ? "パスキーの操作が取り消されたか、時間切れになりました。もう一度お試しください。"
          : (error && error.message && /[\u3040-\u30ff\u4e00-\u9fff]/.test(error.message)
            ? error.message
            : "パスキーを使えませんでした。もう一度お試しください。"));
      });
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  var supported = window.PublicKeyCredential && navigator.credentials && window.fetch;
  for (var i = 0; i < forms.length; i += 1) {
    if (supported) { start(forms[i]); }
  }
  var unsupported = document.querySelectorAll("[data-passkey-unsupported]");
  for (var j = 0; j < unsupported.length; j += 1) { unsupported[j].hidden = !!supported; }
})();
