// JPEG through libjpeg-turbo (the library PIL, and so Keras's loader, decodes with: the same pixels, bit for bit),
// within a budget: DCT scaling to the size the caller needs, a limit on scans, corrupt-data warnings, working memory
// and time. libjpeg reports errors by longjmp, which must not cross C++ objects with destructors, so the decoding
// itself is C style (decode_rgb) and its caller turns the message into an nn::Error.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jerror.h>
#include <jpeglib.h>

#include "nn/core/error.h"
#include "nn/io/image_codecs.h"

namespace nn::image_detail {
namespace {

struct JpegState {
  jpeg_error_mgr base;  // first member: libjpeg's err pointer is this struct's address
  jpeg_progress_mgr progress;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX + 200];
  bool whole_message;  // message is a whole sentence, not libjpeg's reason
  bool size_refused;   // the header is over the size limits: the caller reports it
  int warnings;
  const ImageOptions* options;
  Clock::time_point deadline;
};

// The decoded image, plain data (it lives across the longjmp).
struct JpegRaw {
  unsigned char* pixels;
  JDIMENSION width, height, image_width, image_height;
  int orientation;
};

JpegState* state_of(j_common_ptr info) {
  return reinterpret_cast<JpegState*>(info->err);
}

[[noreturn]] void escape(JpegState* s, bool whole) {
  s->whole_message = whole;
  longjmp(s->escape, 1);
}

void on_error(j_common_ptr info) {
  JpegState* s = state_of(info);
  if (info->err->msg_code == JERR_NO_BACKING_STORE) {  // over max_memory_to_use; Debian's libjpeg has no temp files
    std::snprintf(s->message, sizeof s->message,
                  "cannot be decoded within %lld MB of memory (a progressive JPEG keeps all its coefficients: this "
                  "one needs more)",
                  static_cast<long long>(s->options->max_memory >> 20));
    escape(s, true);
  }
  (*info->err->format_message)(info, s->message);
  escape(s, false);
}

// Warnings (level −1) are counted: a file with more than max_warnings is refused. A file that ends early is an
// error at once (PIL refuses it as truncated too). Trace messages (level ≥ 0) are ignored.
void on_message(j_common_ptr info, int level) {
  if (level >= 0) return;
  JpegState* s = state_of(info);
  if (info->err->msg_code == JWRN_JPEG_EOF) on_error(info);
  if (++s->warnings > s->options->max_warnings) {
    char last[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, last);
    std::snprintf(s->message, sizeof s->message, "cannot be decoded (more than %d corrupt-data warnings; the last: %s)",
                  s->options->max_warnings, last);
    escape(s, true);
  }
}

// Called by libjpeg before each unit of input it absorbs (a marker or an iMCU row) and each output row.
void on_progress(j_common_ptr info) {
  JpegState* s = state_of(info);
  const auto* d = reinterpret_cast<j_decompress_ptr>(info);
  if (d->input_scan_number > s->options->max_scans) {
    std::snprintf(s->message, sizeof s->message,
                  "is refused: more than %d progressive scans (an ordinary progressive JPEG has about 10; repeating "
                  "scans keeps a decoder busy for minutes)",
                  s->options->max_scans);
    escape(s, true);
  }
  if (Clock::now() > s->deadline) {
    std::snprintf(s->message, sizeof s->message, "is refused: not decoded within %g s (the time budget per image)",
                  s->options->max_seconds);
    escape(s, true);
  }
}

JDIMENSION scaled(JDIMENSION side, int m) {
  return static_cast<JDIMENSION>((int64_t{side} * m + 7) / 8);
}

// M of libjpeg's M/8 scaling: the most reduction that keeps both sides ≥ min_side, and at least enough that the
// result holds at most max_decoded_pixels. 8: none.
int scale_for(JDIMENSION w, JDIMENSION h, const ImageOptions& o) {
  int m = 8;
  if (o.min_side > 0)
    while (m > 1 && scaled(w, m - 1) >= o.min_side && scaled(h, m - 1) >= o.min_side) --m;
  while (m > 1 && int64_t{scaled(w, m)} * scaled(h, m) > o.max_decoded_pixels) --m;
  return m;
}

// The first APP1 that holds EXIF gives the orientation.
int orientation_of(jpeg_decompress_struct& info) {
  for (jpeg_saved_marker_ptr m = info.marker_list; m != nullptr; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0)
      return exif_orientation({m->data, m->data_length});
  return 1;
}

// Returns nullptr, or the reason it failed (with out->pixels freed).
const char* decode_rgb(const unsigned char* data, size_t size, JpegState* s, JpegRaw* out) {
  const ImageOptions& o = *s->options;
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&s->base);
  s->base.error_exit = on_error;
  s->base.emit_message = on_message;
  out->pixels = nullptr;
  if (setjmp(s->escape)) {
    jpeg_destroy_decompress(&info);
    std::free(out->pixels);
    out->pixels = nullptr;
    return s->message;
  }
  jpeg_create_decompress(&info);
  info.mem->max_memory_to_use = static_cast<long>(o.max_memory);
  s->progress.progress_monitor = on_progress;
  info.progress = &s->progress;
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&info, TRUE);
  out->image_width = info.image_width;
  out->image_height = info.image_height;
  if (info.image_width > o.max_side || info.image_height > o.max_side ||
      int64_t{info.image_width} * info.image_height > o.max_pixels) {
    s->size_refused = true;
    jpeg_destroy_decompress(&info);
    return "";
  }
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    std::snprintf(s->message, sizeof s->message, "CMYK JPEGs are not supported");
    jpeg_destroy_decompress(&info);
    return s->message;
  }
  out->orientation = orientation_of(info);
  info.out_color_space = JCS_RGB;
  if (const int m = scale_for(info.image_width, info.image_height, o); m < 8) {
    info.scale_num = static_cast<unsigned>(m);  // at 8/8 the defaults (1/1) stay: PIL's pixels, bit for bit
    info.scale_denom = 8;
  }
  jpeg_start_decompress(&info);  // a progressive file's scans are all absorbed here
  const size_t row = size_t{info.output_width} * 3;
  out->pixels = static_cast<unsigned char*>(std::malloc(row * info.output_height));
  if (out->pixels == nullptr) {
    std::snprintf(s->message, sizeof s->message, "out of memory");
    jpeg_destroy_decompress(&info);
    return s->message;
  }
  out->width = info.output_width;
  out->height = info.output_height;
  while (info.output_scanline < info.output_height) {
    JSAMPROW line = out->pixels + row * info.output_scanline;
    jpeg_read_scanlines(&info, &line, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return nullptr;
}

}  // namespace

Rgb8 decode_jpeg(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options) {
  JpegState s{};
  s.options = &options;
  s.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(std::max(0.0, options.max_seconds)));
  JpegRaw raw{};
  raw.orientation = 1;
  const char* error = decode_rgb(bytes.data(), bytes.size(), &s, &raw);
  if (error != nullptr && s.size_refused) check_size(name, raw.image_width, raw.image_height, options);  // throws
  if (error != nullptr)
    fail(name, s.whole_message ? std::string(error) : "cannot be decoded (" + std::string(error) + ")");
  Rgb8 image;
  image.width = raw.width;
  image.height = raw.height;
  image.pixels.reset(raw.pixels);
  image.orientation = raw.orientation;
  return image;
}

}  // namespace nn::image_detail
