/**
 * The bytes of a small WebAssembly module (SIMD128) that multiplies-and-accumulates over GF(2^8),
 * emitted here instead of by a build tool. simd-codec.ts compiles it once per thread.
 *
 * Technique (split nibbles): for a coefficient c, lo[x] = c·x and hi[x] = c·(x << 4) for x < 16; since
 * multiplication by c is linear over XOR, c·v = lo[v & 0x0f] ^ hi[v >> 4], and `i8x16.swizzle` looks
 * up 16 bytes in a 16-byte table at once. Each table pair takes 32 bytes (lo, then hi).
 *
 * Exports: `memory` (fixed size, never grown) and `rows1` … `rows${MAX_ROWS_PER_CALL}`:
 *
 *   rowsN(tables, inputs, outputs, cols, stride, len)
 *     for p in 0, 32, … < len, for r < N:
 *       outputs[r·stride + p .. +32] = XOR over c < cols of coef(r, c) · inputs[c·stride + p .. +32]
 *   where the table pair of coef(r, c) is at tables + (c·N + r)·32. cols >= 1; `len` > 0 and a
 *   multiple of 32 (both loops test at the bottom).
 *
 * Each 16-byte input vector is loaded once and accumulated into all N outputs, held in locals;
 * two vectors (32 bytes) per step let each table pair loaded serve twice. Lanes never mix, so bytes
 * past the caller's real length only affect the same bytes of the outputs, which it ignores.
 * Measured on this machine (4+2, 16 KiB blocks, kernel alone): this fused form 6.4 GB/s of data;
 * one pass per (row, input) pair — even without reloading its output — 5.2-5.4 GB/s. One vector per
 * step, four per step, or up to 6 or 8 rows per call were no faster than 2 and 4 (bench noise ~10%).
 *
 * Opcode numbers: WebAssembly core spec (binary format) and the SIMD proposal's BinarySIMD.md as
 * standardised (prefix 0xFD, then the sub-opcode as LEB128 u32).
 */

/** Rows computed per kernel call (accumulators live in registers: 2 × 4 of the 16 x64 has); a shape
 *  with more output rows calls the kernels once per group of rows. */
export const MAX_ROWS_PER_CALL = 4;
/** 16-byte vectors per kernel step: each table pair loaded serves all of them. */
const VECTORS = 2;
/** Bytes one kernel step processes per row (VECTORS × 16); `len` must be a multiple of it. */
export const STEP_BYTES = 16 * VECTORS;
/** Linear memory: fixed, whatever the stripe (64 KiB pages). simd-codec.ts lays it out. */
export const MEMORY_PAGES = 16;

// Module structure.
const MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"
const VERSION = [0x01, 0x00, 0x00, 0x00];
const SECTION_TYPE = 1;
const SECTION_FUNCTION = 3;
const SECTION_MEMORY = 5;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;
const FUNC_TYPE = 0x60;
const I32 = 0x7f;
const V128 = 0x7b;
const EXPORT_FUNC = 0x00;
const EXPORT_MEMORY = 0x02;
const LIMITS_MIN_MAX = 0x01;

// Control and variable instructions.
const BLOCKTYPE_EMPTY = 0x40;
const LOOP = 0x03;
const END = 0x0b;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;

// i32 instructions.
const I32_CONST = 0x41;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;

// SIMD instructions: SIMD_PREFIX then the sub-opcode as LEB128 u32 (one byte below 0x80).
const SIMD_PREFIX = 0xfd;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const V128_CONST = 0x0c;
const I8X16_SWIZZLE = 0x0e;
const I8X16_RELAXED_SWIZZLE = 0x100; // relaxed-SIMD proposal (Wasm 3.0); two LEB128 bytes: 0x80 0x02
const I8X16_SPLAT = 0x0f;
const V128_AND = 0x4e;
const V128_XOR = 0x51;
const I16X8_SHR_U = 0x8d; // two LEB128 bytes: 0x8d 0x01

/** log2 of the alignment hint for v128 accesses: every address we use is 16-byte aligned. */
const ALIGN_16 = 4;

/** Unsigned LEB128: sizes, indices, memarg fields, SIMD sub-opcodes. */
function u32(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, for i32.const immediates. */
function s32(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...u32(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...u32(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...u32(content.length), ...content];
}

/** Instruction helpers: each returns the bytes of one instruction. */
const get = (local: number) => [LOCAL_GET, ...u32(local)];
const set = (local: number) => [LOCAL_SET, ...u32(local)];
const tee = (local: number) => [LOCAL_TEE, ...u32(local)];
const i32Const = (value: number) => [I32_CONST, ...s32(value)];
const simd = (op: number) => [SIMD_PREFIX, ...u32(op)];
const load = (offset: number) => [...simd(V128_LOAD), ...u32(ALIGN_16), ...u32(offset)];
const store = (offset: number) => [...simd(V128_STORE), ...u32(ALIGN_16), ...u32(offset)];

/** Parameters of every kernel function, then its locals, by index. */
const P_TABLES = 0;
const P_INPUTS = 1;
const P_OUTPUTS = 2;
const P_COLS = 3;
const P_STRIDE = 4;
const P_LEN = 5;
const PARAM_COUNT = 6;
const L_POS = 6; // byte offset p within the block
const L_TABLE = 7; // address of the current column's table pairs
const L_ADDR = 8; // address of the current input (then output) vector
const L_COL = 9; // columns left
const I32_LOCALS = 4;
const L_MASK = 10; // v128 0x0f × 16
const L_LO = L_MASK + 1; // low nibbles of each vector of the step
const L_HI = L_LO + VECTORS; // high nibbles of each vector of the step
const L_TLO = L_HI + VECTORS; // the current table pair
const L_THI = L_TLO + 1;
const L_ACC = L_THI + 1; // accumulators: L_ACC + VECTORS·r + u for row r, vector u

/** The body of `rows${rows}` (see the module comment). */
function kernelBody(rows: number, swizzle: number): number[] {
  const acc = (r: number, u: number) => L_ACC + VECTORS * r + u;
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) code.push(...part);
  };

  // mask = i8x16.splat(0x0f); p = 0
  emit(i32Const(0x0f), simd(I8X16_SPLAT), set(L_MASK));
  emit(i32Const(0), set(L_POS));

  emit([LOOP, BLOCKTYPE_EMPTY]); // loop over positions p
  {
    // acc[r][u] = 0
    const zero = [...simd(V128_CONST), ...new Array<number>(16).fill(0)];
    for (let r = 0; r < rows; r++) for (let u = 0; u < VECTORS; u++) emit(zero, set(acc(r, u)));
    // t = tables; a = inputs + p; c = cols
    emit(get(P_TABLES), set(L_TABLE));
    emit(get(P_INPUTS), get(L_POS), [I32_ADD], set(L_ADDR));
    emit(get(P_COLS), set(L_COL));

    emit([LOOP, BLOCKTYPE_EMPTY]); // loop over input columns c
    {
      // v = load(a + 16u); lo[u] = v & mask; hi[u] = (v >> 4) & mask. The shift is per 16-bit lane
      // (x64 has no byte shift, so V8 would emulate i8x16.shr_u with extra steps); the mask drops
      // the bits shifted in from the neighbouring byte.
      for (let u = 0; u < VECTORS; u++) {
        emit(get(L_ADDR), load(16 * u), tee(L_HI + u));
        emit(get(L_MASK), simd(V128_AND), set(L_LO + u));
        emit(get(L_HI + u), i32Const(4), simd(I16X8_SHR_U), get(L_MASK), simd(V128_AND), set(L_HI + u));
      }
      // for each row: load its table pair once, then acc[r][u] ^= swizzle(tlo, lo[u]) ^ swizzle(thi, hi[u])
      for (let r = 0; r < rows; r++) {
        emit(get(L_TABLE), load(32 * r), set(L_TLO));
        emit(get(L_TABLE), load(32 * r + 16), set(L_THI));
        for (let u = 0; u < VECTORS; u++) {
          emit(get(acc(r, u)));
          emit(get(L_TLO), get(L_LO + u), simd(swizzle));
          emit(get(L_THI), get(L_HI + u), simd(swizzle));
          emit(simd(V128_XOR), simd(V128_XOR), set(acc(r, u)));
        }
      }
      // t += 32·rows; a += stride; c -= 1; repeat while c != 0
      emit(get(L_TABLE), i32Const(32 * rows), [I32_ADD], set(L_TABLE));
      emit(get(L_ADDR), get(P_STRIDE), [I32_ADD], set(L_ADDR));
      emit(get(L_COL), i32Const(1), [I32_SUB], tee(L_COL), [BR_IF, 0]);
    }
    emit([END]);

    // store acc[r][u] at outputs + r·stride + p + 16u
    emit(get(P_OUTPUTS), get(L_POS), [I32_ADD], set(L_ADDR));
    for (let r = 0; r < rows; r++) {
      if (r > 0) emit(get(L_ADDR), get(P_STRIDE), [I32_ADD], set(L_ADDR));
      for (let u = 0; u < VECTORS; u++) emit(get(L_ADDR), get(acc(r, u)), store(16 * u));
    }
    // p += 32; repeat while p < len
    emit(get(L_POS), i32Const(STEP_BYTES), [I32_ADD], tee(L_POS), get(P_LEN), [I32_LT_U], [BR_IF, 0]);
  }
  emit([END]);
  emit([END]); // end of function

  const v128Locals = L_ACC - L_MASK + VECTORS * rows;
  const locals = vec([
    [...u32(I32_LOCALS), I32],
    [...u32(v128Locals), V128],
  ]);
  const body = [...locals, ...code];
  return [...u32(body.length), ...body];
}

/** Name of the export computing `rows` output rows per call. */
export function kernelExport(rows: number): string {
  return `rows${rows}`;
}

/**
 * The complete module. With `relaxedSwizzle`, lookups use `i8x16.relaxed_swizzle`: it differs from
 * `i8x16.swizzle` only for indices >= 16, which never occur here (every index is a nibble), so the
 * bytes are the same, and V8 on x64 then emits a bare `pshufb` instead of guarding each index with a
 * saturating add (measured with Node 20's flag: 4+2 encode 5.7 -> 6.6 GB/s, 10+4 2.7 -> 3.7-4.4).
 * Only runtimes with relaxed SIMD accept that module: V8 ships it from 11.4; Node 20 (V8 11.3) has
 * it behind --experimental-wasm-relaxed-simd.
 */
export function gfSimdModuleBytes(options: { relaxedSwizzle?: boolean } = {}): Uint8Array {
  const swizzle = options.relaxedSwizzle === true ? I8X16_RELAXED_SWIZZLE : I8X16_SWIZZLE;
  const kernels = Array.from({ length: MAX_ROWS_PER_CALL }, (_, i) => i + 1);
  const funcType = [FUNC_TYPE, ...vec(new Array<number[]>(PARAM_COUNT).fill([I32])), ...vec([])];
  const bytes = [
    ...MAGIC,
    ...VERSION,
    ...section(SECTION_TYPE, vec([funcType])),
    ...section(SECTION_FUNCTION, vec(kernels.map(() => u32(0)))),
    ...section(SECTION_MEMORY, vec([[LIMITS_MIN_MAX, ...u32(MEMORY_PAGES), ...u32(MEMORY_PAGES)]])),
    ...section(
      SECTION_EXPORT,
      vec([
        [...name('memory'), EXPORT_MEMORY, ...u32(0)],
        ...kernels.map((rows, index) => [...name(kernelExport(rows)), EXPORT_FUNC, ...u32(index)]),
      ]),
    ),
    ...section(SECTION_CODE, vec(kernels.map((rows) => kernelBody(rows, swizzle)))),
  ];
  return Uint8Array.from(bytes);
}
