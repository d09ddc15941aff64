//! Who is asking: the principal of a request, read once from its verified access token.

/// The principal behind a verified access token. Whether it is still live — the member's
/// session not ended, the worker still granted — is checked where its rights are: in the same
/// statement as the data it reads or writes ([`crate::store::items`]), or by
/// [`crate::api::auth::Bearer::check`] for everything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A person, signed in: their user id and the session the token belongs to.
    Member {
        /// User id.
        user_id: String,
        /// Session id.
        session_id: String,
    },
    /// A backend worker an account granted in its team log.
    Worker {
        /// Worker id.
        worker_id: String,
    },
}

impl Principal {
    /// The user or worker id: the actor recorded on what it writes.
    pub fn id(&self) -> &str {
        match self {
            Self::Member { user_id, .. } => user_id,
            Self::Worker { worker_id } => worker_id,
        }
    }

    /// The session id, empty for a worker (a worker has no session).
    pub fn session_id(&self) -> &str {
        match self {
            Self::Member { session_id, .. } => session_id,
            Self::Worker { .. } => "",
        }
    }

    /// Whether this is a worker.
    pub fn is_worker(&self) -> bool {
        matches!(self, Self::Worker { .. })
    }

    /// What kind of actor this is, as the audit trail records it.
    pub fn kind(&self) -> entity::values::ActorKind {
        match self {
            Self::Member { .. } => entity::values::ActorKind::Member,
            Self::Worker { .. } => entity::values::ActorKind::Worker,
        }
    }
}
