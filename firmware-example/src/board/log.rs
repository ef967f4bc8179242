//! Log lines for the application's events (defmt), shared by both boards.
//! scripts/firmware-test and tests/qemu_check.py match these texts.

use wirekit_firmware_example::{Address, Event};

/// Logs the image's services and their ports at boot.
pub fn services() {
    #[cfg(feature = "echo-time")]
    defmt::info!("wirekit-fw: echo/time: tcp/7 udp/7 echo, udp/13 strftime, tcp/37 rfc868");
    #[cfg(feature = "framed")]
    defmt::info!("wirekit-fw: framed: tcp/8484 files (read-only, flash), tcp/9999 chat (4 seats)");
}

/// Logs one event from `App::poll`.
pub fn event(event: Event) {
    match event {
        Event::Synced(unix) => defmt::info!("wirekit-fw: clock synced: unix {=i64}", unix),
        Event::SyncFailed => defmt::info!("wirekit-fw: clock sync failed, retrying"),
        Event::Address(Address::Dhcp(cidr, gw)) => {
            let [a, b, c, d] = cidr.address().octets();
            let [g0, g1, g2, g3] = gw.map_or([0; 4], |g| g.octets());
            defmt::info!(
                "wirekit-fw: address from DHCP: {=u8}.{=u8}.{=u8}.{=u8}/{=u8} via {=u8}.{=u8}.{=u8}.{=u8}",
                a, b, c, d, cidr.prefix_len(), g0, g1, g2, g3
            );
        }
        Event::Address(Address::Static(cidr)) => {
            let [a, b, c, d] = cidr.address().octets();
            defmt::info!(
                "wirekit-fw: no DHCP lease, static address {=u8}.{=u8}.{=u8}.{=u8}/{=u8}",
                a,
                b,
                c,
                d,
                cidr.prefix_len()
            );
        }
    }
}
