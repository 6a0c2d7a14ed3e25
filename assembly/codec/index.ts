// Frame decoder, encoder, masking and UTF-8 validation (owned by the codec work; see docs/design.md).
export function codecPlaceholder(): u32 { return 0; }
