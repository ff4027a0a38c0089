import type { Command } from 'commander';
import { defaultVocabulary, type Tag } from '../../data/tags.js';
import { OptionError, quoteValue } from '../../errors.js';

interface TagsCliOptions {
  filter?: string;
  kind: 'cvt' | 'cit' | 'all';
}

/** `tag2pix tags`: lists the tag vocabulary. */
export function registerTagsCommand(program: Command): void {
  program
    .command('tags')
    .description('List the tag vocabulary: colour tags (CVT, for --tags) and colour-invariant tags (CIT)')
    .option('--filter <text>', 'only tags whose name contains this text (e.g. hair)')
    .option('--kind <kind>', 'cvt (colour tags, the ones colorize takes), cit, or all', 'all')
    .action((opts: TagsCliOptions) => {
      if (!['cvt', 'cit', 'all'].includes(opts.kind)) {
        throw new OptionError(`--kind must be cvt, cit or all, got ${quoteValue(opts.kind, 40)}.`);
      }
      const vocabulary = defaultVocabulary();
      const needle = opts.filter?.trim().toLowerCase().replace(/\s+/g, '_');
      const lists: Array<[string, readonly Tag[]]> = [];
      if (opts.kind !== 'cit') lists.push(['Colour tags (CVT), for colorize --tags', vocabulary.cvt]);
      if (opts.kind !== 'cvt') lists.push(['Colour-invariant tags (CIT), read from the line art', vocabulary.cit]);
      let shown = 0;
      for (const [title, tags] of lists) {
        const matching = tags.filter((t) => !needle || t.name.includes(needle));
        if (matching.length === 0) continue;
        console.log(`${title}: ${matching.length}`);
        const width = Math.max(...matching.map((t) => t.name.length));
        for (const t of matching) console.log(`  ${t.name.padEnd(width)}  ${t.part ?? ''}`.trimEnd());
        shown += matching.length;
      }
      if (shown === 0) {
        const hint = needle ? vocabulary.nearest(needle, 3).join(', ') : '';
        throw new OptionError(`no tag contains ${quoteValue(opts.filter ?? '', 40)}${hint ? `; nearest names: ${hint}` : ''}.`);
      }
    });
}
