"""With a denoising model, the page shows the query cleaned, with a download."""


def test_an_upload_is_shown_cleaned_with_a_download(open_page, denoising_index_dir, image_folder):
    page = open_page(denoising_index_dir)
    query = image_folder / "blue" / "02.png"
    page.file_uploader[0].set_value(("02.png", query.read_bytes(), "image/png"))
    page.run()
    assert not page.exception and not page.error
    captions = [img.proto.imgs[0].caption for img in page.get("image")]
    assert "Cleaned by the denoising model" in captions
    assert "Its reconstruction from the code" not in captions
    labels = [button.proto.label for button in page.get("download_button")]
    assert "Download the cleaned photo" in labels
