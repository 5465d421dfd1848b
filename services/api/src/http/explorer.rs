//! A minimal query explorer served on `GET /graphql` to browsers: self-contained (no CDN, the
//! service may run on a network without internet access), enough to paste a token, write a
//! query with variables and see the answer.
use actix_web::HttpResponse;

const PAGE: &str = r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Palier — GraphQL</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}
textarea,input{width:100%;font-family:ui-monospace,monospace;font-size:.9rem;box-sizing:border-box}
textarea{height:14rem}pre{background:#f4f4f4;padding:1rem;overflow:auto;min-height:6rem}
label{display:block;margin-top:.8rem;font-weight:600}button{margin-top:.8rem;padding:.4rem 1.2rem}
</style></head><body>
<h1>Palier — GraphQL</h1>
<p>POST <code>/graphql</code> with <code>Authorization: Bearer &lt;token&gt;</code>. The schema is in
<code>schema/schema.graphql</code>; subscriptions use WebSocket (graphql-transport-ws) on this URL.</p>
<label for="token">Token</label><input id="token" type="password" autocomplete="off">
<label for="query">Query</label>
<textarea id="query">{ framework { domains { code title competences { code title } } } }</textarea>
<label for="variables">Variables (JSON)</label><textarea id="variables" style="height:5rem">{}</textarea>
<button id="run">Run</button>
<pre id="out"></pre>
<script>
document.getElementById('run').onclick = async () => {
  const out = document.getElementById('out');
  let variables;
  try { variables = JSON.parse(document.getElementById('variables').value || '{}'); }
  catch (e) { out.textContent = 'Variables: ' + e; return; }
  const res = await fetch(location.pathname, {method: 'POST', headers: {
      'content-type': 'application/json', 'accept': 'application/graphql-response+json',
      'authorization': 'Bearer ' + document.getElementById('token').value},
    body: JSON.stringify({query: document.getElementById('query').value, variables})});
  out.textContent = res.status + '\n' + JSON.stringify(await res.json(), null, 2);
};
</script></body></html>"#;

/// The explorer page.
pub fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}
