"""The pure time-sharing policy: plan(snapshot, config, now) -> Plan. Standard library only."""
