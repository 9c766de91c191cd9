// The version every weft binary reports (`weft version`, the stream hello, /v1/health).
export const WEFT_VERSION = '0.1.0';
