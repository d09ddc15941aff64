//! The connection layer under the HTTP/1 dispatcher, so that a request the HTTP layer refuses
//! still gets the API's JSON error, not actix's empty `400`/`431`.
//!
//! [`Guarded`] reads the client's bytes through a second copy of actix's own request decoder
//! (`actix_http::h1::Codec`, the code the dispatcher runs) and hands the dispatcher only whole
//! messages: complete request heads and the body bytes after them. When the copy refuses a
//! request head (a garbage request line, too many or malformed headers, a negative
//! `Content-Length`, `Content-Length` with `chunked`, a URI or head too large), the dispatcher
//! never sees those bytes: it sees the end of the stream instead, finishes the requests it
//! already has, and shuts the connection down — and the shutdown first writes the JSON error,
//! so it comes after every earlier response, as the answer to the refused request. A request
//! whose *body* cannot be decoded ends the same way, but without a second answer: the handler
//! reading that body already answers it (`400 request.invalid_json`).
//!
//! After an upgrade request the copy stops decoding: what follows is another protocol.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_http::error::ParseError;
use actix_http::h1::{Codec, Message, MessageType};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Decoder;

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// An HTTP/1 connection whose refused request heads are answered with JSON errors.
pub struct Guarded<IO> {
    io: IO,
    /// The second decoder; `None` once the connection can carry no further request.
    shadow: Option<Codec>,
    /// Received bytes the dispatcher has not been given: an incomplete head.
    held: BytesMut,
    /// The same bytes, as the shadow decoder consumes them.
    probe: BytesMut,
    /// Whole messages the dispatcher may read.
    ready: BytesMut,
    /// The answer to a refused head, written before shutdown; `Some` means refused.
    answer: Option<BytesMut>,
    /// The socket reached its end.
    eof: bool,
}

impl<IO> Guarded<IO> {
    /// Wraps a fresh connection.
    pub fn new(io: IO) -> Self {
        Self {
            io,
            shadow: Some(Codec::new(actix_http::ServiceConfig::default())),
            held: BytesMut::new(),
            probe: BytesMut::new(),
            ready: BytesMut::new(),
            answer: None,
            eof: false,
        }
    }

    /// Gives bytes to the dispatcher (without a copy when nothing else is waiting).
    fn release(&mut self, bytes: BytesMut) {
        if self.ready.is_empty() {
            self.ready = bytes;
        } else {
            self.ready.extend_from_slice(&bytes);
        }
    }

    /// Runs the shadow decoder over what was received and moves every whole message to `ready`.
    fn sort(&mut self) {
        if self.shadow.is_none() {
            let rest = self.held.split();
            self.release(rest);
            return;
        }
        loop {
            let before = self.probe.len();
            let Some(codec) = self.shadow.as_mut() else { return };
            let decoded = codec.decode(&mut self.probe);
            let (upgrade, in_payload) = (codec.upgrade(), codec.message_type() != MessageType::None);
            // A refused head may have been split off before it was refused: only what decoded
            // goes to the dispatcher.
            if decoded.is_ok() {
                let consumed = before - self.probe.len();
                let whole = self.held.split_to(consumed);
                self.release(whole);
            }
            match decoded {
                Ok(Some(Message::Item(_))) => {
                    if upgrade {
                        // What follows an upgrade is another protocol: pass it all through.
                        self.shadow = None;
                        let rest = self.held.split();
                        self.release(rest);
                        self.probe.clear();
                        return;
                    }
                }
                Ok(Some(Message::Chunk(_))) => {}
                Ok(None) => return,
                Err(e) => {
                    // Inside a body (the decoder holds a payload), the handler reading it answers.
                    if !in_payload {
                        self.answer = Some(answer(&e));
                    }
                    self.shadow = None;
                    self.held.clear();
                    self.probe.clear();
                    self.eof = true;
                    return;
                }
            }
        }
    }
}

/// The JSON answer to a refused request head (the connection closes after it).
fn answer(e: &ParseError) -> BytesMut {
    let (status, code, message) = match e {
        ParseError::TooLarge => (
            "431 Request Header Fields Too Large",
            "request.head_too_large",
            "the request head is too large (more than 96 headers or 128 KiB)",
        ),
        ParseError::Method => ("400 Bad Request", "request.invalid_method", "the request method is invalid"),
        ParseError::Uri(_) => ("400 Bad Request", "request.invalid_uri", "the request URI is invalid or too long"),
        ParseError::Version => ("400 Bad Request", "request.invalid_version", "the HTTP version is invalid"),
        ParseError::Header => (
            "400 Bad Request",
            "request.invalid_header",
            "a header is invalid (e.g. a bad Content-Length, or Content-Length with chunked)",
        ),
        _ => ("400 Bad Request", "request.malformed", "the request is not valid HTTP/1.1"),
    };
    let body = format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#);
    let text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    BytesMut::from(text.as_bytes())
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Read straight into `held` (no bounce buffer).
            this.held.reserve(READ_CHUNK);
            let before = this.held.len();
            let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.held))?;
            if n == 0 {
                // The client is done: what is held (an incomplete head) goes to the dispatcher,
                // which treats it as it always has.
                this.eof = true;
                let rest = this.held.split();
                this.release(rest);
                continue;
            }
            if this.shadow.is_some() {
                this.probe.extend_from_slice(&this.held[before..]);
            }
            this.sort();
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Every earlier response is written (the dispatcher flushes before it shuts down): the
        // refused request's answer goes last.
        while let Some(a) = this.answer.as_mut().filter(|a| !a.is_empty()) {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, a))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            a.advance(n);
        }
        if this.answer.take().is_some() {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
