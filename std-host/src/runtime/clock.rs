//! The local wall clock as the core's [`Tm`]: offset and zone abbreviation
//! come from the system time zone (the `TZ` variable, else
//! `/etc/localtime`), the way Python's `time.localtime` sees them.

use wirekit_core::strftime::Tm;

/// The current local time.
pub fn local_now() -> Tm {
    local_at(jiff::Timestamp::now())
}

/// `ts` in the system time zone.
pub fn local_at(ts: jiff::Timestamp) -> Tm {
    let tz = jiff::tz::TimeZone::system();
    let info = tz.to_offset_info(ts);
    let mut tm = Tm::from_unix(ts.as_second(), info.offset().seconds(), info.abbreviation());
    tm.isdst = i8::from(info.dst().is_dst());
    tm
}
