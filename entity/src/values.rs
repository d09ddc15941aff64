//! The closed sets of the schema's columns, as enums from the column on: a row with a value
//! outside its set fails to load (a clear error) instead of flowing on as a string.

use sea_orm::entity::prelude::*;

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
        pub enum $name {
            $($(#[$vdoc])* #[sea_orm(string_value = $value)] $variant,)+
        }

        impl $name {
            /// The value as stored and as the API sends it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set! {
    /// A role in an account. `Worker` is never stored in `memberships`: it is how a granted
    /// worker of the account appears to the rules.
    MemberRole {
        /// Owns the account.
        Owner = "owner",
        /// Manages members.
        Admin = "admin",
        /// Reads and writes items.
        Member = "member",
        /// A backend worker.
        Worker = "worker",
        /// The server's operator (`vouchsafe admin`).
        Operator = "operator",
    }
}

closed_set! {
    /// Where a membership stands.
    MembershipStatus {
        /// Accepted an invitation; awaits an admin's confirmation (code comparison).
        Accepted = "accepted",
        /// Confirmed: holds the master key.
        Active = "active",
        /// Reset their password: awaits colleagues' vouches for the new keys.
        AwaitingVouch = "awaiting_vouch",
        /// Removed by a provisioning client (an API token or SCIM): reads nothing, holds no
        /// sealed key; an admin's client removes them from the log and rotates the key.
        Deprovisioned = "deprovisioned",
    }
}

closed_set! {
    /// Where an invitation stands (an expired one is `Pending` past its `expires_at`).
    InvitationStatus {
        /// Sent, not yet used.
        Pending = "pending",
        /// Used.
        Accepted = "accepted",
        /// Withdrawn by an admin.
        Revoked = "revoked",
    }
}

closed_set! {
    /// Where a worker stands.
    WorkerStatus {
        /// Registered, not granted.
        Pending = "pending",
        /// Granted in the team log.
        Active = "active",
        /// Revoked in the team log.
        Revoked = "revoked",
    }
}

closed_set! {
    /// What a worker may do with items.
    WorkerAccess {
        /// Not granted yet.
        None = "none",
        /// Read items.
        Read = "read",
        /// Read and write items.
        ReadWrite = "read_write",
    }
}

closed_set! {
    /// Where a password-reset token stands.
    ResetState {
        /// E-mailed, usable until it expires.
        Valid = "valid",
        /// A newer reset for the same user replaced it.
        Superseded = "superseded",
        /// Used: the reset was completed.
        Consumed = "consumed",
        /// Cancelled by its member ("this was not me").
        Cancelled = "cancelled",
    }
}

closed_set! {
    /// Where a key recovery stands.
    RecoveryState {
        /// The link was e-mailed, not yet opened.
        Emailed = "emailed",
        /// Opened by a client's ephemeral key: shares are released to it.
        Open = "open",
        /// Completed, or ended by another recovery's completion.
        Done = "done",
    }
}

closed_set! {
    /// Who did something in an account's audit trail.
    ActorKind {
        /// A person's session.
        Member = "member",
        /// A backend worker.
        Worker = "worker",
        /// The server's operator (`vouchsafe admin`).
        Operator = "operator",
        /// An account's API token (a provisioning client).
        ApiToken = "api_token",
    }
}

closed_set! {
    /// Where a proposal (an entry gathering admin co-signatures) stands.
    ProposalStatus {
        /// Gathering co-signatures.
        Open = "open",
        /// Complete and appended to the log.
        Applied = "applied",
        /// Withdrawn by its author or an admin.
        Withdrawn = "withdrawn",
    }
}

closed_set! {
    /// What a deposit holds.
    DepositKind {
        /// Named fields.
        Record = "record",
        /// One file.
        File = "file",
    }
}
