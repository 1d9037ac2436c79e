/**
 * Vehicle tags: groups such as `pilot` or `fleet-berlin` that operators filter by and deployments target.
 * Lower case only, so `Pilot` and `pilot` can never be two groups; a short, plain alphabet, so a tag is
 * safe in a URL, a command line and a comma-separated list.
 */
export const tagPattern = /^[a-z0-9._-]{1,32}$/;
export const maxTagsPerVehicle = 16;

/** A tag list the server refuses (400 in the API and the UI, exit 2 in the CLI). */
export class TagInputError extends Error {
  override name = 'TagInputError';
}

/** One tag, checked; `Pilot` is refused rather than silently lowered, so what is stored is what was typed. */
export function checkTag(tag: string): string {
  if (!tagPattern.test(tag)) {
    const shown = JSON.stringify(tag.slice(0, 40));
    throw new TagInputError(tag.length === 0 || tag.length > 32
      ? `bad tag ${shown}: a tag has 1 to 32 characters`
      : `bad tag ${shown}: a tag has only lower-case letters, digits, "-", "_" and "."`);
  }
  return tag;
}

/** Tags checked, without duplicates, sorted (the order shown everywhere). */
export function checkTags(tags: readonly string[]): string[] {
  const unique = [...new Set(tags.map(checkTag))].sort();
  if (unique.length > maxTagsPerVehicle) throw new TagInputError(`${unique.length} tags: a vehicle has at most ${maxTagsPerVehicle}`);
  return unique;
}

/** `pilot, fleet-berlin` or `pilot fleet-berlin` (a form field, a CLI option) → the tags, empty entries dropped. */
export function splitTagList(text: string): string[] {
  return text.split(/[\s,]+/).filter((tag) => tag.length > 0);
}
