/**
 * Tables of an HTML mail as a text grid, in time linear in the table.
 *
 * Why not html-to-text's own `dataTable` format: it lays cells out in a square matrix of
 * max(rows, columns)² slots and takes `colspan`/`rowspan` as written, so a 60-byte
 * `<td colspan="10000000">` never finishes, and a row of 20,000 cells takes seconds, in a runner
 * thread that Stop cannot interrupt. Here cells take one column each (spans are ignored: a grid
 * that is a little off is better than one that never comes), and the text stops growing at a
 * bound, since a tall cell far to the right would otherwise pad every one of its lines.
 */
import type { FormatCallback } from 'html-to-text';

type DomNode = Parameters<FormatCallback>[0];

/** Spaces between columns, as html-to-text's grid puts them. */
const COLUMN_GAP = 3;

/**
 * A table as text: every cell in its column, columns as wide as their widest line plus a gap,
 * rows as tall as their tallest cell. Stops adding lines once the text is longer than `maxChars`.
 */
export function tableToText(rows: readonly (readonly { readonly text: string }[])[], maxChars: number): string {
  const cellLines = rows.map((cells) => cells.map((cell) => cell.text.split('\n')));
  const widths: number[] = [];
  for (const cells of cellLines) {
    cells.forEach((lines, x) => {
      for (const line of lines) widths[x] = Math.max(widths[x] ?? 0, line.length);
    });
  }
  const offsets: number[] = [0];
  for (let x = 0; x < widths.length; x++) offsets[x + 1] = (offsets[x] as number) + (widths[x] as number) + COLUMN_GAP;

  const out: string[] = [];
  let length = 0;
  for (const cells of cellLines) {
    let height = 0;
    for (const lines of cells) height = Math.max(height, lines.length);
    for (let j = 0; j < height; j++) {
      let line = '';
      cells.forEach((lines, x) => {
        const text = lines[j];
        if (text !== undefined && text !== '') line = line.padEnd(offsets[x] as number) + text;
      });
      out.push(line);
      length += line.length + 1;
      if (length > maxChars) return out.join('\n');
    }
  }
  return out.join('\n');
}

/**
 * The `table` formatter: the same walk as html-to-text's `dataTable` (rows of `<th>`/`<td>`,
 * also inside `<thead>`, `<tbody>`, `<tfoot>` and `<center>`), laid out by `tableToText`.
 */
export function boundedTableFormatter(maxChars: number): FormatCallback {
  return (elem, walk, builder, formatOptions) => {
    const formatCell = (cell: DomNode): void => {
      builder.openTableCell({ maxColumnWidth: formatOptions.maxColumnWidth });
      walk(cell.children, builder);
      builder.closeTableCell({ colspan: 1, rowspan: 1 });
    };
    const walkTable = (node: DomNode): void => {
      if (node.type !== 'tag') return;
      if (node.name === 'thead' || node.name === 'tbody' || node.name === 'tfoot' || node.name === 'center') {
        node.children.forEach(walkTable);
      } else if (node.name === 'tr') {
        builder.openTableRow();
        for (const cell of node.children) if (cell.type === 'tag' && (cell.name === 'td' || cell.name === 'th')) formatCell(cell);
        builder.closeTableRow();
      }
    };
    builder.openTable();
    elem.children.forEach(walkTable);
    builder.closeTable({
      tableToString: (rows) => tableToText(rows, maxChars),
      leadingLineBreaks: formatOptions.leadingLineBreaks,
      trailingLineBreaks: formatOptions.trailingLineBreaks,
    });
  };
}
