//! How requests leave the process: ureq natively; a synchronous `XMLHttpRequest` on wasm32 (the
//! dashboard runs the client inside a dedicated Web Worker, where synchronous requests are
//! allowed and never block the page).

use crate::{Client, ClientError, RawResponse};

/// Largest response body read (lists of 10,000 items fit comfortably).
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .user_agent(concat!("vouchsafe-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn send(
    client: &Client,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Result<RawResponse, ClientError> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let bytes = body.map(|b| b.as_bytes().to_vec()).unwrap_or_default();
    let r = req.body(bytes).map_err(|e| ClientError::Transport(e.to_string()))?;
    let mut resp = client.agent.run(r).map_err(|e| ClientError::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    Ok(RawResponse { status, body, retry_after })
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn send(
    _client: &Client,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Result<RawResponse, ClientError> {
    let js = |e: wasm_bindgen::JsValue| ClientError::Transport(e.as_string().unwrap_or_else(|| format!("{e:?}")));
    let xhr = web_sys::XmlHttpRequest::new().map_err(js)?;
    xhr.open_with_async(method, url, false).map_err(js)?;
    for (k, v) in headers {
        xhr.set_request_header(k, v).map_err(js)?;
    }
    xhr.send_with_opt_str(body).map_err(js)?;
    let status = xhr.status().map_err(js)?;
    if status == 0 {
        return Err(ClientError::Transport("the server did not answer".into()));
    }
    let body = xhr.response_text().map_err(js)?.unwrap_or_default();
    if body.len() as u64 > MAX_RESPONSE {
        return Err(ClientError::Transport("the answer is too large".into()));
    }
    let retry_after = xhr.get_response_header("retry-after").ok().flatten();
    Ok(RawResponse { status, body, retry_after })
}

/// Unix seconds now (the browser's clock on wasm32).
pub fn unix_now() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (js_sys::Date::now() / 1000.0) as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    #[allow(clippy::disallowed_methods)] // the client's one clock
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}
