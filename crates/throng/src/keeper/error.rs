//! Errors returned by [`Keeper`](super::Keeper) operations, one type per operation.
//!
//! Errors for calls that were never accepted hand the closure back (`into_inner`), with a
//! hand-written `Debug` so closures need not be `Debug`.

use std::fmt;

/// Why [`Keeper::spawn`](super::Keeper::spawn) started no keeper.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// `spawn` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRuntime => "a keeper must be spawned inside a tokio runtime",
        })
    }
}

impl std::error::Error for SpawnError {}

/// Why [`Keeper::call`](super::Keeper::call) (or a [`Reply`](super::Reply)) produced no
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The keeper does not accept work: [`stop`](super::Keeper::stop) was called, or its
    /// runtime shut down. The closure did not run.
    Stopped,
    /// An earlier closure panicked, so the keeper stopped without running this one (its
    /// state may be inconsistent). The closure did not run.
    Poisoned,
    /// This closure panicked; the message is the panic's payload. The keeper is now
    /// poisoned.
    Panicked(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Stopped => f.write_str("keeper stopped"),
            CallError::Poisoned => f.write_str("keeper poisoned by an earlier panic"),
            CallError::Panicked(msg) => write!(f, "closure panicked: {msg}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Why [`Keeper::call_timeout`](super::Keeper::call_timeout) produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallTimeoutError {
    /// The deadline passed before the reply arrived (waiting for mailbox room counts).
    /// If the keeper had not started the closure, it never will; if it had, the closure
    /// finishes and its result is dropped.
    TimedOut,
    /// As [`CallError::Stopped`].
    Stopped,
    /// As [`CallError::Poisoned`].
    Poisoned,
    /// As [`CallError::Panicked`].
    Panicked(String),
}

impl From<CallError> for CallTimeoutError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Stopped => CallTimeoutError::Stopped,
            CallError::Poisoned => CallTimeoutError::Poisoned,
            CallError::Panicked(msg) => CallTimeoutError::Panicked(msg),
        }
    }
}

impl fmt::Display for CallTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallTimeoutError::TimedOut => f.write_str("call timed out"),
            CallTimeoutError::Stopped => CallError::Stopped.fmt(f),
            CallTimeoutError::Poisoned => CallError::Poisoned.fmt(f),
            CallTimeoutError::Panicked(msg) => write!(f, "closure panicked: {msg}"),
        }
    }
}

impl std::error::Error for CallTimeoutError {}

macro_rules! refused_error {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub enum $name<F> {
            $( $(#[$vmeta])* $variant(F), )+
        }

        impl<F> $name<F> {
            /// The closure that was not accepted.
            pub fn into_inner(self) -> F {
                match self {
                    $( $name::$variant(f) => f, )+
                }
            }
        }

        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( $name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")), )+
                }
            }
        }

        impl<F> fmt::Display for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( $name::$variant(_) => f.write_str($text), )+
                }
            }
        }

        impl<F> std::error::Error for $name<F> {}
    };
}

refused_error! {
    /// Why [`Keeper::try_call`](super::Keeper::try_call) did not accept a closure; it is
    /// handed back.
    TryCallError {
        /// The mailbox is full.
        Full => "keeper mailbox full",
        /// The keeper was stopped (or its runtime shut down).
        Stopped => "keeper stopped",
        /// The keeper stopped after a closure panicked.
        Poisoned => "keeper poisoned by an earlier panic",
    }
}

refused_error! {
    /// Why [`Keeper::try_cast`](super::Keeper::try_cast) did not accept a closure; it is
    /// handed back.
    TryCastError {
        /// The mailbox is full.
        Full => "keeper mailbox full",
        /// The keeper was stopped (or its runtime shut down).
        Stopped => "keeper stopped",
        /// The keeper stopped after a closure panicked.
        Poisoned => "keeper poisoned by an earlier panic",
    }
}

refused_error! {
    /// Why [`Keeper::cast`](super::Keeper::cast) did not accept a closure; it is handed
    /// back.
    CastError {
        /// The keeper was stopped (or its runtime shut down).
        Stopped => "keeper stopped",
        /// The keeper stopped after a closure panicked.
        Poisoned => "keeper poisoned by an earlier panic",
    }
}

/// Why [`Keeper::stop`](super::Keeper::stop) returned no clean final state.
#[non_exhaustive]
pub enum StopError<S> {
    /// Another `stop` call already took the state (this call still waited for the task
    /// to end).
    AlreadyStopped,
    /// A closure panicked: here is the state anyway (it may be inconsistent, as with
    /// [`std::sync::PoisonError`]) and the panic message.
    Poisoned {
        /// The keeper's final state.
        state: S,
        /// The first panic's message.
        message: String,
    },
    /// The keeper's task ended without handing its state back (its runtime shut down);
    /// the state was dropped.
    Lost,
}

impl<S> StopError<S> {
    /// The final state, if this error carries one.
    pub fn into_state(self) -> Option<S> {
        match self {
            StopError::Poisoned { state, .. } => Some(state),
            _ => None,
        }
    }
}

impl<S> fmt::Debug for StopError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::AlreadyStopped => f.write_str("AlreadyStopped"),
            StopError::Poisoned { message, .. } => f
                .debug_struct("Poisoned")
                .field("message", message)
                .finish_non_exhaustive(),
            StopError::Lost => f.write_str("Lost"),
        }
    }
}

impl<S> fmt::Display for StopError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::AlreadyStopped => f.write_str("keeper already stopped"),
            StopError::Poisoned { message, .. } => {
                write!(f, "keeper poisoned by a panic: {message}")
            }
            StopError::Lost => f.write_str("keeper task ended without returning its state"),
        }
    }
}

impl<S> std::error::Error for StopError<S> {}
