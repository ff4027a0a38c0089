// Colour-tag picker: search-as-you-type over the colour-variant tags (CVT), grouped by the
// body part they colour. Typed text can also be added directly ("blue hair, red eyes"); it is
// parsed by the library's vocabulary, which names the nearest known tags for a typo.
import { UnknownTagError, type Tag, type TagVocabulary } from 'tag2pix';

/** Display order and titles of the vocabulary's `part` values. */
const PART_TITLES: Array<[string, string]> = [
  ['hair', 'Hair'],
  ['face', 'Eyes & face'],
  ['body_upper', 'Clothes: upper body'],
  ['body_lower', 'Clothes: lower body & legs'],
  ['body_whole', 'Dresses, swimwear & skin'],
  ['background', 'Background'],
];

const COLORS: Record<string, string> = {
  black: '#222', white: '#fff', grey: '#999', silver: '#c0c0c8', brown: '#7b4a26',
  light: '#c8a070', blonde: '#f2d36b', red: '#d33', pink: '#f59ac0', orange: '#f08a24',
  yellow: '#f5d90a', green: '#3a3', aqua: '#3cd6d6', blue: '#2f62d8', purple: '#8a3fc4',
  lavender: '#b9a2e6', beige: '#e8d8b8', dark: '#6b4a32', pale: '#f7e6dc', denim: '#3b5b8a',
  gradient: 'linear-gradient(#8ac, #fff)',
};

/** A small colour swatch for a tag name, from its first colour word (none for e.g. `blush`). */
function swatchFor(name: string): string | undefined {
  for (const word of name.split(/[_-]/)) if (COLORS[word]) return COLORS[word];
  return undefined;
}

function words(s: string): string {
  return s.toLowerCase().replace(/[_\s]+/g, ' ').trim();
}

export interface TagPickerOptions {
  vocabulary: TagVocabulary;
  search: HTMLInputElement;
  addButton: HTMLButtonElement;
  chosen: HTMLElement;
  groups: HTMLElement;
  /** Called when the chosen set changes. */
  onChange: (tags: readonly Tag[]) => void;
  /** Called with an error (unknown tag, wrong kind of tag) to show to the user. */
  onError: (error: Error) => void;
}

export class TagPicker {
  private readonly chosenTags: Tag[] = [];
  private readonly colorTags: readonly Tag[];

  constructor(private readonly options: TagPickerOptions) {
    this.colorTags = options.vocabulary.cvt;
    options.search.addEventListener('input', () => this.renderGroups());
    options.search.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.addFromText(options.search.value);
      }
    });
    options.addButton.addEventListener('click', () => this.addFromText(options.search.value));
    this.render();
  }

  /** The chosen colour tags, in the order they were chosen. */
  get tags(): readonly Tag[] {
    return this.chosenTags;
  }

  /**
   * Adds the tags named in free text. Unknown names raise the vocabulary's error (with the
   * nearest known tags); colour-invariant tags are refused with an explanation.
   * Returns true when the text was accepted.
   */
  addFromText(text: string): boolean {
    if (text.trim() === '') return false;
    let parsed: Tag[];
    try {
      parsed = this.options.vocabulary.parseTags(text);
    } catch (err) {
      this.options.onError(err instanceof UnknownTagError ? this.explainUnknown(err) : (err as Error));
      return false;
    }
    const notColor = parsed.filter((t) => t.kind !== 'cvt');
    if (notColor.length > 0) {
      const names = notColor.map((t) => `'${t.name}'`).join(', ');
      this.options.onError(
        new Error(
          `${names} ${notColor.length > 1 ? 'are not colour tags' : 'is not a colour tag'}: ` +
            'the network reads shapes (hair length, clothes, …) from the line art itself and takes only ' +
            'colour tags such as blue_hair or red_eyes. Pick from the list below.',
        ),
      );
      return false;
    }
    for (const t of parsed) if (!this.chosenTags.includes(t)) this.chosenTags.push(t);
    this.options.search.value = '';
    this.changed();
    return true;
  }

  /** The vocabulary's error, reworded for the page: only colour tags are worth suggesting here. */
  private explainUnknown(err: UnknownTagError): Error {
    const vocabulary = this.options.vocabulary;
    const lines = err.unknown.map(({ tag, suggestions }) => {
      const color = vocabulary
        .nearest(tag, 40)
        .filter((name) => vocabulary.byName(name)?.kind === 'cvt')
        .slice(0, 3);
      const names = color.length > 0 ? color : suggestions;
      return `'${tag.replace(/_/g, ' ')}': did you mean ${names.join(', ')}?`;
    });
    return new Error(
      `Unknown tag${lines.length > 1 ? 's' : ''}: ${lines.join(' ')} ` +
        'Pick a colour tag from the list, or type its name with spaces or underscores.',
    );
  }

  toggle(tag: Tag): void {
    const i = this.chosenTags.indexOf(tag);
    if (i >= 0) this.chosenTags.splice(i, 1);
    else this.chosenTags.push(tag);
    this.changed();
  }

  clear(): void {
    this.chosenTags.length = 0;
    this.changed();
  }

  private changed(): void {
    this.render();
    this.options.onChange(this.chosenTags);
  }

  private render(): void {
    this.renderChosen();
    this.renderGroups();
  }

  private chip(tag: Tag): HTMLButtonElement {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = 'chip' + (this.chosenTags.includes(tag) ? ' chosen' : '');
    chip.dataset['tag'] = tag.name;
    const swatch = swatchFor(tag.name);
    if (swatch) {
      const dot = document.createElement('span');
      dot.className = 'swatch';
      dot.style.background = swatch;
      chip.append(dot);
    }
    chip.append(tag.name.replace(/_/g, ' '));
    chip.title = tag.name;
    chip.addEventListener('click', () => this.toggle(tag));
    return chip;
  }

  private renderChosen(): void {
    const { chosen } = this.options;
    chosen.replaceChildren(...this.chosenTags.map((t) => this.chip(t)));
    if (this.chosenTags.length === 0) {
      const empty = document.createElement('span');
      empty.className = 'hint';
      empty.textContent = 'No colour tag chosen: the network picks colours itself.';
      chosen.append(empty);
    }
  }

  private renderGroups(): void {
    const query = words(this.options.search.value);
    // The text may hold several comma-separated tags; filter by the one being typed.
    const current = words(query.split(',').pop() ?? '');
    const matches = this.colorTags.filter((t) => current === '' || words(t.name).includes(current));
    const sections: HTMLElement[] = [];
    const known = new Set(PART_TITLES.map(([p]) => p));
    const groups: Array<[string, Tag[]]> = PART_TITLES.map(([part, title]) => [
      title,
      matches.filter((t) => t.part === part),
    ]);
    groups.push(['Other', matches.filter((t) => !known.has(t.part ?? ''))]);
    for (const [title, tags] of groups) {
      if (tags.length === 0) continue;
      const section = document.createElement('div');
      section.className = 'tag-group';
      const heading = document.createElement('h3');
      heading.textContent = `${title} (${tags.length})`;
      const chips = document.createElement('div');
      chips.className = 'chips';
      chips.append(...tags.map((t) => this.chip(t)));
      section.append(heading, chips);
      sections.push(section);
    }
    if (sections.length === 0) {
      const none = document.createElement('p');
      none.className = 'hint';
      none.textContent = `No colour tag contains "${current}". Press Enter to check the spelling.`;
      sections.push(none);
    }
    this.options.groups.replaceChildren(...sections);
  }
}
