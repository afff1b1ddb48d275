import { readFileSync, writeFileSync } from 'node:fs'

/**
 * `bench/results.json` (gitignored) keeps one section per mode (`throughput`, `workers`,
 * `memory`, `profile`), so running one mode does not erase the others' latest figures.
 */
export function writeSection(path: string, mode: string, section: unknown): void {
  let existing: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) existing = parsed as Record<string, unknown>
  } catch {
    // First run, or an unreadable file: start afresh.
  }
  existing[mode] = section
  writeFileSync(path, `${JSON.stringify(existing, null, 2)}\n`)
}
