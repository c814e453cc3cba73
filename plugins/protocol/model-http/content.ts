/** Reading a message's content, which is text or (with images) OpenAI-style parts. */
import type { ChatMessage, ContentPart } from "../../../core/kinds/model.ts";

type ImagePart = Extract<ContentPart, { type: "image_url" }>;

/** The text of a content: the string, or the text parts joined by line breaks. */
export function contentText(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content
    .filter((part) => part.type === "text")
    .map((part) => part.text)
    .join("\n");
}

export function imageParts(content: ChatMessage["content"]): ImagePart[] {
  return Array.isArray(content) ? content.filter((part): part is ImagePart => part.type === "image_url") : [];
}

export function hasImages(messages: readonly ChatMessage[]): boolean {
  return messages.some((message) => imageParts(message.content).length > 0);
}

/** The base64 payload of a `data:<mime>;base64,<payload>` URL, or undefined for any other URL. */
export function base64Payload(url: string): string | undefined {
  const match = /^data:[^,;]*(?:;[^,;]*)*;base64,/i.exec(url);
  return match ? url.slice(match[0].length) : undefined;
}
