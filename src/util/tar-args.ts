/**
 * GNU tar writing an archive to stdout in 64 KiB records (128 blocks) instead of its default
 * 10 KiB: a run reads tar's stream through node to count it (PipelineOptions.tap), and six times
 * fewer, fuller reads took that pass from ~25 % of the repository step to ~2 % on 10k files of
 * text (on incompressible files it still costs ~15 %). Readers (GNU tar, node-tar,
 * tar-headers.ts) take any record size.
 */
export const TAR_CREATE = ['tar', '--create', '--file=-', '--blocking-factor=128', '--sparse'];

/**
 * GNU tar extracting, reading whole 64 KiB records. tar stops at the end-of-archive blocks; in
 * its default 10 KiB records it left up to 54 KiB of TAR_CREATE's last record unread, and the
 * stage writing them (zstd, age) could die of SIGPIPE and fail the restore. Archives written
 * in 10 KiB records (before TAR_CREATE's) end within one record, so they are read to the end too.
 * Modes as archived, whoever restores; folder times and sparse files are GNU tar's default. Not
 * --delay-directory-restore: on 100k folders it made extraction ten times slower.
 */
export const TAR_EXTRACT = ['tar', '--extract', '--blocking-factor=128', '--read-full-records', '--preserve-permissions'];

/** `--exclude=PATTERN` as one argument each, so a pattern can never become an option. */
export function tarExcludes(patterns: string[]): string[] {
  return patterns.map((p) => `--exclude=${p}`);
}
