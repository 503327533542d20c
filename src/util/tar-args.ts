/** `--exclude=PATTERN` as one argument each, so a pattern can never become an option. */
export function tarExcludes(patterns: string[]): string[] {
  return patterns.map((p) => `--exclude=${p}`);
}
