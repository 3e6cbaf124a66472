// Helpers for type expectations: they do nothing at run time.

/** True when A and B are the same type (not merely assignable: `any` is equal only to `any`). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true`: `expectTrue<Equal<X, Y>>()`. */
export function expectTrue<_T extends true>(): void {}
