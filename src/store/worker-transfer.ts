/** Worker-thread side: a task's result whose buffers go back to the main thread moved, not copied. */
import { Piscina } from 'piscina';

/** Moves the distinct, whole ArrayBuffers behind `views` back to the main thread instead of copying. */
export function transferable<T extends object>(value: T, views: ArrayBufferLike[]): unknown {
  const buffers = [...new Set(views)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  return Piscina.move({
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  } as never);
}
