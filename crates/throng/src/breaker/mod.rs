//! A circuit breaker: closed, open and half-open, on consecutive failures or a failure rate.
