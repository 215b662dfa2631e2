//! `Quota` building and validation.

use std::time::Duration;

use throng::ratelimit::{InvalidQuota, Quota};

#[test]
fn per_second_sets_interval_and_default_burst_to_the_count() {
    let q = Quota::per_second(20).build().unwrap();
    assert_eq!(q.interval(), Duration::from_millis(50));
    assert_eq!(q.burst_size(), 20);
    assert_eq!(q.replenish_all(), Duration::from_secs(1));
}

#[test]
fn burst_overrides_the_default() {
    let q = Quota::per_second(20).burst(40).build().unwrap();
    assert_eq!(q.burst_size(), 40);
    assert_eq!(q.replenish_all(), Duration::from_secs(2));
}

#[test]
fn per_minute_hour_and_with_period() {
    assert_eq!(
        Quota::per_minute(60).build().unwrap().interval(),
        Duration::from_secs(1)
    );
    assert_eq!(
        Quota::per_hour(2).build().unwrap().interval(),
        Duration::from_secs(1800)
    );
    let q = Quota::with_period(Duration::from_millis(250))
        .build()
        .unwrap();
    assert_eq!(q.interval(), Duration::from_millis(250));
    assert_eq!(q.burst_size(), 1);
    assert_eq!(
        Quota::per(3, Duration::from_secs(1))
            .build()
            .unwrap()
            .interval_nanos(),
        333_333_333,
        "rounded down to whole nanoseconds"
    );
}

#[test]
fn zero_count_is_a_typed_error() {
    assert_eq!(Quota::per_second(0).build(), Err(InvalidQuota::ZeroCount));
    assert_eq!(
        Quota::per_second(0).burst(5).build(),
        Err(InvalidQuota::ZeroCount),
        "count is checked first"
    );
}

#[test]
fn zero_burst_is_a_typed_error() {
    assert_eq!(
        Quota::per_second(10).burst(0).build(),
        Err(InvalidQuota::ZeroBurst)
    );
}

#[test]
fn zero_period_is_a_typed_error() {
    assert_eq!(
        Quota::with_period(Duration::ZERO).build(),
        Err(InvalidQuota::ZeroPeriod)
    );
}

#[test]
fn faster_than_one_per_nanosecond_is_a_typed_error() {
    assert_eq!(
        Quota::per(10, Duration::from_nanos(5)).build(),
        Err(InvalidQuota::TooFast {
            count: 10,
            period: Duration::from_nanos(5)
        })
    );
    assert!(Quota::per(5, Duration::from_nanos(5)).build().is_ok());
}

#[test]
fn errors_display_short_lowercase_messages() {
    assert_eq!(
        InvalidQuota::ZeroBurst.to_string(),
        "quota burst must be at least 1"
    );
    let q: Result<Quota, _> = Quota::per_second(0).try_into();
    assert_eq!(q.unwrap_err().to_string(), "quota count must be at least 1");
}
