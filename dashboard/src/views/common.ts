// What every view shares: its cleanup, and how an error reads.
import { GraphQLError } from '../api';
import { note } from '../dom';
import { t } from '../i18n';

/** Stops a view's subscriptions when the page leaves it. */
export type Cleanup = () => void;

export function errorNote(e: unknown): HTMLElement {
  if (e instanceof GraphQLError) {
    if (e.code === 'FORBIDDEN') return note(t('forbidden'), 'error');
    if (e.code === 'NETWORK') return note(t('networkError'), 'error');
    return note(e.message, 'error');
  }
  return note(String(e), 'error');
}
