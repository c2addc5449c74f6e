export { newConversationId, isConversationId } from './id.ts';
export { safeFileName, MAX_FILENAME_BYTES, FALLBACK_FILENAME } from './filename.ts';
export {
  ConversationStore,
  type ConversationContext,
  type ConversationPaths,
  type ConversationReply,
  type NewConversation,
  type SessionCost,
} from './store.ts';
export {
  selectOutboxFiles,
  notAttachedMarkdown,
  countedBytes,
  type OutboxCaps,
  type OutboxEntry,
  type OutboxSelection,
  type NotAttachedFile,
} from './outbox-selection.ts';
