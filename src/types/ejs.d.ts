// EJS 7 ships no type declarations (and @types/ejs describes EJS 3). This declares the documented
// surface this app uses: renderFile, compile, resolveInclude, the template cache and the options it passes.
declare module 'ejs' {
  interface Options {
    filename?: string;
    root?: string | string[];
    views?: string[];
    cache?: boolean;
    compileDebug?: boolean;
    _with?: boolean;
    destructuredLocals?: string[];
  }
  type TemplateFunction = (data?: object) => string;
  interface Cache {
    get(key: string): TemplateFunction | undefined;
    set(key: string, value: TemplateFunction): void;
    remove(key: string): void;
    reset(): void;
  }
  const ejs: {
    cache: Cache;
    compile(source: string, options?: Options): TemplateFunction;
    resolveInclude(name: string, filename: string, isDir?: boolean): string;
    renderFile(file: string, data: object, options: Options, done: (err: Error | null, html?: string) => void): void;
  };
  namespace ejs {
    export type { Options, TemplateFunction, Cache };
  }
  export default ejs;
}
