// Single-producer/single-consumer ring (owned by the ring work; see docs/design.md).
export function ringPlaceholder(): u32 { return 0; }
