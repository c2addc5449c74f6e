/**
 * Bounds of the MIME reader (passed to mailparser's splitter; its defaults, made ours so that the
 * replies can name them). Every reader of a stored message must use the same.
 */
export const MIME_LIMITS = {
  /** Most MIME parts (nodes) in one message. */
  maxChildNodes: 1000,
  /** Largest header section of one part, in bytes (each line counts at least a minimum). */
  maxHeadSize: 1024 * 1024,
} as const;
