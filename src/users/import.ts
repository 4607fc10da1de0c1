import { AccountConflictError, AccountInputError, type AccountStore, type AuditContext } from './accounts.js';
import { readUserFile, type StoredUser } from './file-store.js';

/**
 * The JSON user file (the former USERS_FILE store, see users.example.json) as an import format.
 * Idempotent: a user whose subject is already in the database is left exactly as the database
 * has it (edits made since in the console are not overwritten), so importing the same file
 * again changes nothing. Subjects and argon2 hashes are kept as they are: people sign in with
 * the passwords they had. A subject of a deleted account is never brought back.
 */

export interface ImportResult {
  created: number;
  /** Already there (same subject): left unchanged. */
  kept: number;
  /** Refused, with the reason: email taken by another subject, retired subject, bad claim. */
  skipped: { index: number; subject: string; reason: string }[];
}

export async function importUsers(store: AccountStore, users: readonly StoredUser[], by: AuditContext): Promise<ImportResult> {
  const result: ImportResult = { created: 0, kept: 0, skipped: [] };
  for (const [index, user] of users.entries()) {
    if (await store.getBySubject(user.subject)) {
      result.kept++;
      continue;
    }
    try {
      await store.create(
        {
          subject: user.subject,
          email: user.email,
          email_verified: user.email_verified,
          password_hash: user.password_hash,
          profile: user.profile,
        },
        by,
      );
      result.created++;
    } catch (error) {
      if (!(error instanceof AccountConflictError || error instanceof AccountInputError)) throw error;
      result.skipped.push({ index, subject: user.subject, reason: error.message });
    }
  }
  return result;
}

/** Reads and validates the file (UserFileError names what is wrong), then imports it. */
export async function importUserFile(store: AccountStore, path: string, by: AuditContext): Promise<ImportResult> {
  const { users } = await readUserFile(path);
  return importUsers(store, users, by);
}
