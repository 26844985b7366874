// A .zip of text files, stored (not compressed): what "Export Markdown" downloads, one
// file per article, so the files can go back in through "Import…" (or into a Git repository).
// The format is PKWARE's APPNOTE: a local header and the data for each file, then the
// central directory and its end record; names are UTF-8 (general purpose bit 11).

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** @param {{name: string, content: string}[]} files  @returns {Blob} */
export function zipFiles(files) {
  const encoder = new TextEncoder();
  const chunks = [];
  const central = [];
  let offset = 0;
  for (const file of files) {
    const name = encoder.encode(file.name);
    const data = encoder.encode(file.content);
    const crc = crc32(data);
    const header = (signature, extra) => {
      const view = new DataView(new ArrayBuffer(extra ? 46 : 30));
      let at = 0;
      const u32 = (v) => { view.setUint32(at, v, true); at += 4; };
      const u16 = (v) => { view.setUint16(at, v, true); at += 2; };
      u32(signature);
      if (extra) u16(20);  // made by: version 2.0
      u16(20);  // needed to extract: 2.0
      u16(0x0800);  // UTF-8 names
      u16(0);  // stored
      u16(0); u16(0x21);  // time 00:00, date 1980-01-01
      u32(crc); u32(data.length); u32(data.length);
      u16(name.length); u16(0);  // no extra field
      if (extra) { u16(0); u16(0); u16(0); u32(0); u32(offset); }  // comment, disk, attributes, where
      return new Uint8Array(view.buffer);
    };
    const local = header(0x04034b50, false);
    chunks.push(local, name, data);
    central.push(header(0x02014b50, true), name);
    offset += local.length + name.length + data.length;
  }
  const size = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...chunks, ...central, new Uint8Array(end.buffer)], { type: "application/zip" });
}
