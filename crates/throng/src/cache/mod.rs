//! A bounded concurrent cache with expiry and single-flight loading.
